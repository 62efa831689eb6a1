"""`flask admin ...`: offers and who may access them, users, failed jobs (docs/deploy.md, "Operating")."""

import functools

import click
from flask.cli import AppGroup
from sqlalchemy import select

from webapp import queue_health
from webapp.admin import operations
from webapp.admin.operations import AdminError
from webapp.extensions import db
from webapp.models import User

admin_cli = AppGroup("admin", help="Operate the deployment: offer access, users, failed jobs.")


def refusals_as_errors(command):
    """Show an AdminError as click's error line (exit status 1), not a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except AdminError as refused:
            raise click.ClickException(str(refused)) from None

    return wrapper


@admin_cli.command("offers")
def offers_command():
    """List the offers and who may access them."""
    for team in operations.offer_teams():
        offer = team.offer
        state = "open" if offer.is_open else "closed"
        emails = ", ".join(user.email for user in team.users) or "(nobody but admins)"
        click.echo(f"{offer.slug}\t{offer.title} ({offer.kind}, {state})\t{emails}")


@admin_cli.command("grant")
@click.argument("email")
@click.argument("offer_slug")
@refusals_as_errors
def grant_command(email, offer_slug):
    """Give the user access to the offer (its hiring team)."""
    _change_access(operations.grant_access, email, offer_slug, ("now has", "already had"))


@admin_cli.command("revoke")
@click.argument("email")
@click.argument("offer_slug")
@refusals_as_errors
def revoke_command(email, offer_slug):
    """Take the user off the offer's hiring team."""
    _change_access(operations.revoke_access, email, offer_slug, ("no longer has", "did not have"))


def _change_access(change, email: str, offer_slug: str, said: tuple[str, str]) -> None:
    """Grant or revoke, commit, and say whether it changed anything."""
    user, offer = operations.find_user(email), operations.find_offer(offer_slug)
    changed = change(None, user, offer)
    db.session.commit()
    click.echo(f"{user.email} {said[0] if changed else said[1]} access to {offer.slug}.")


@admin_cli.command("users")
def users_command():
    """List the team: email, name, role, and whether the account is active."""
    for user in db.session.scalars(select(User).order_by(User.email)):
        state = "active" if user.is_active_user else "deactivated"
        click.echo(f"{user.email}\t{user.name}\t{user.role}\t{state}")


@admin_cli.command("deactivate")
@click.argument("email")
@refusals_as_errors
def deactivate_command(email):
    """Sign the user out everywhere and refuse their sign-in (their mail stays)."""
    user = operations.find_user(email)
    changed = operations.set_active(None, user, False)
    db.session.commit()
    click.echo(f"{user.email} {'deactivated' if changed else 'was already deactivated'}.")


@admin_cli.command("reactivate")
@click.argument("email")
@refusals_as_errors
def reactivate_command(email):
    """Let a deactivated user sign in again."""
    user = operations.find_user(email)
    changed = operations.set_active(None, user, True)
    db.session.commit()
    click.echo(f"{user.email} {'reactivated' if changed else 'was already active'}.")


@admin_cli.command("reset-password")
@click.argument("email")
@click.option("--generate", is_flag=True, help="Make up a password and print it once, instead of asking.")
@refusals_as_errors
def reset_password_command(email, generate):
    """Set a user's password: asked for (twice), or generated and printed once."""
    user = operations.find_user(email)
    given = None if generate else click.prompt("New password", hide_input=True, confirmation_prompt=True)
    password = operations.reset_password(None, user, given)
    db.session.commit()
    if generate:
        click.echo(f"New password for {user.email} (shown once): {password}")
    else:
        click.echo(f"Password of {user.email} changed.")


@admin_cli.command("failed-jobs")
@click.option("--limit", default=50, show_default=True, help="Show at most this many, newest first.")
@click.option("--traceback", "full", is_flag=True, help="Print each job's whole traceback.")
def failed_jobs_command(limit, full):
    """List the jobs that failed, with their errors."""
    jobs = queue_health.failed_jobs(limit)
    if not jobs:
        click.echo("No failed jobs.")
    for job in jobs:
        ended = job.ended_at.isoformat(timespec="seconds") if job.ended_at else "?"
        click.echo(f"{job.id}\t{job.queue}\t{ended}\t{job.func_name}({job.args})")
        click.echo(f"    {job.error_line}")
        if full:
            click.echo(job.error)


@admin_cli.command("requeue")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Requeue every failed job.")
def requeue_command(job_ids, every):
    """Put failed jobs back in their queues (by id, or --all)."""
    if every == bool(job_ids):
        raise click.UsageError("give job ids, or --all")
    if every:
        click.echo(f"Requeued {queue_health.requeue_all()} job(s).")
        return
    missing = [job_id for job_id in job_ids if not queue_health.requeue(job_id)]
    click.echo(f"Requeued {len(job_ids) - len(missing)} job(s).")
    if missing:
        raise click.ClickException(f"not among the failed jobs: {', '.join(missing)}")
