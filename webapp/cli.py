"""Flask CLI commands: `users create`, `seed --demo` and `folders rebuild`."""

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select, text

from webapp.admin.operations import MIN_PASSWORD_LENGTH
from webapp.demo import load_demo
from webapp.extensions import db
from webapp.mail.read import entries
from webapp.models import User
from webapp.models.user import ROLES
from webapp.services import mail_domain

users_cli = AppGroup("users", help="Manage team members.")
folders_cli = AppGroup("folders", help="The folder entries (who sees which conversation where).")


@users_cli.command("create")
@click.option("--email", required=True, help="Login email.")
@click.option("--name", required=True, help="Full name, shown on sent mail.")
@click.option("--role", type=click.Choice(ROLES), default="recruiter", show_default=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--inbound", "inbound_local", help="Local part of the personal inbound address.")
@click.option("--timezone", default="UTC", show_default=True)
def create_user(email, name, role, password, inbound_local, timezone):
    """Create a team member."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    email = email.strip().lower()
    if "@" not in email:
        raise click.BadParameter("not an email address", param_hint="--email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.BadParameter(f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="--password")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(f"unknown time zone {timezone!r}", param_hint="--timezone") from None
    if db.session.scalar(select(User).where(func.lower(User.email) == email)):
        raise click.ClickException(f"a user with email {email} already exists")
    local = (inbound_local or email.split("@", 1)[0]).lower()
    if db.session.scalar(select(User).where(User.inbound_local == local)):
        raise click.ClickException(f"the inbound address {local}@ is taken; choose one with --inbound")
    user = User(email=email, name=name, role=role, inbound_local=local, timezone=timezone)
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    entries.refresh_user(user.id)  # the team's mail the newcomer may see (non-candidates...)
    db.session.commit()
    click.echo(f"Created {role} {email} (receives mail at {user.inbound_address(mail_domain().domain)}).")


@click.command("seed")
@click.option("--demo", is_flag=True, help="Load the demo team, offers, candidates and mail.")
@click.option("--if-empty", is_flag=True, help="Do nothing when users already exist.")
@with_appcontext
def seed_command(demo, if_empty):
    """Load demo data (never in production)."""
    if not demo:
        raise click.UsageError("say --demo to load the demo data")
    if if_empty and db.session.scalar(select(func.count(User.id))):
        click.echo("Database already has users; demo data not loaded.")
        return
    summary = load_demo()
    click.echo(f"Demo data loaded: {summary}.")


@folders_cli.command("rebuild")
@with_appcontext
def rebuild_folders():
    """Recompute every folder entry from the messages, access and follows (after an import or restore)."""
    count = entries.rebuild()
    db.session.commit()
    # The tables were rewritten whole: statistics from before would have the planner think them
    # empty (PostgreSQL then sorts a user's every entry for a page instead of reading 50 in order).
    for table in ("folder_entries", "folder_counts"):
        db.session.execute(text(f"ANALYZE {table}"))
    db.session.commit()
    click.echo(f"{count} folder entries")
