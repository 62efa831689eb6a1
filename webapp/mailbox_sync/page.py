"""The settings page as every Settings > Mailbox view renders it, and the timing of a test from it."""

from dataclasses import dataclass
from typing import Any

from flask import current_app, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.3; stubs lag)

from webapp.extensions import db
from webapp.jobs.sync import timing
from webapp.mail.sync.runner import Timing, error_phrase
from webapp.mailbox_sync.forms import MailboxForm
from webapp.mailbox_sync.operations import MailboxTaken
from webapp.models import MailboxConnection, User
from webapp.services import mailbox_vault
from webapp.templating import translate

PAGE = "mailbox_sync/settings.html"
# A test from the page waits less than a sync does: someone is looking at the spinner.
WEB_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Progress:
    """A running sync's progress, as the settings page shows it."""

    done: int
    total: int
    text: str


def progress_of(connection: MailboxConnection | None) -> Progress | None:
    """ "Syncing: 3,200 of 10,000 messages" while a sync runs (numbers in the user's locale); else None."""
    if connection is None or connection.sync_total is None:
        return None
    total = connection.sync_total
    done = min(connection.sync_done or 0, total)
    text = _(
        "Syncing: %(done)s of %(total)s messages", done=format_decimal(done), total=format_decimal(total)
    )
    return Progress(done, total, text)


def page(form: MailboxForm, connection: MailboxConnection | None, status: int = 200, **extra):
    """The settings page with the form, the connection's state, and a result or an error."""
    error = error_phrase(connection) if connection is not None else None
    return (
        render_template(
            PAGE,
            form=form,
            connection=connection,
            progress=progress_of(connection),
            last_error=translate(error) if error is not None else None,
            available=mailbox_vault() is not None,
            providers=list(current_app.config["MAILBOX_OAUTH_PROVIDERS"].values()),
            **extra,
        ),
        status,
    )


def web_timing() -> Timing:
    found = timing()
    return Timing(timeout=min(found.timeout, WEB_TIMEOUT_S), ca_file=found.ca_file)


def taken(exc: MailboxTaken) -> str:
    """Why a mailbox cannot be connected a second time, naming where it is connected."""
    other = exc.other
    if other.shared:
        return _(
            "This mailbox is connected already, as the shared mailbox %(name)s: a mailbox is connected "
            "once, so its mail never comes in twice.",
            name=other.name or other.username,
        )
    return _(
        "This mailbox is connected already, by %(user)s: a mailbox is connected once, so its mail "
        "never comes in twice.",
        user=other.user.name,
    )


def user_choices() -> list[SelectChoice]:
    """The active users, by name: whom a shared mailbox can be shared with."""
    users = db.session.scalars(select(User).where(User.is_active_user.is_(True)).order_by(User.name))
    return [SelectChoice(u.id, f"{u.name} <{u.email}>") for u in users]


def disconnect_args(grant, outcome: str | None) -> dict[str, Any]:
    """What the page after a disconnect says of the OAuth grant (query arguments of its URL)."""
    return {"grant": outcome, "provider": grant.provider.name} if grant is not None and outcome else {}


def with_grant_notice(notice: str | None, done: str | None) -> str | None:
    """The page's notice, and after a disconnect what became of the OAuth grant (from the URL)."""
    if not notice or done != "disconnected":
        return notice
    said = grant_notice(request.args.get("grant"), request.args.get("provider"))
    return f"{notice} {said}".strip()


def grant_notice(outcome: str | None, provider_name: str | None) -> str:
    """What became of a disconnected mailbox's OAuth grant at its provider, in a sentence."""
    provider = current_app.config["MAILBOX_OAUTH_PROVIDERS"].get(provider_name or "")
    label = provider.label if provider is not None else (provider_name or "")
    if outcome == "revoked":
        return _("Hiremail's access to the account at %(provider)s is withdrawn too.", provider=label)
    if outcome == "manual":
        return _(
            "%(provider)s does not let Hiremail withdraw its own access: remove Hiremail in the "
            "account's security settings there.",
            provider=label,
        )
    if outcome == "failed":
        return _(
            "%(provider)s could not be reached to withdraw Hiremail's access: remove Hiremail in the "
            "account's security settings there.",
            provider=label,
        )
    return ""
