"""Mailbox operations: archive a conversation for the team, or bring it back."""

from webapp.extensions import db
from webapp.mail.read import entries
from webapp.models import Thread
from webapp.models.types import utcnow


def archive(thread: Thread, user_id: int) -> None:
    """Archive a conversation for the whole team (a new inbound message brings it back)."""
    thread.is_archived, thread.archived_at, thread.archived_by_id = True, utcnow(), user_id
    db.session.flush()
    entries.refresh([thread.id])


def unarchive(thread: Thread) -> None:
    """Bring an archived conversation back to the team's folders."""
    thread.is_archived, thread.archived_at, thread.archived_by_id = False, None, None
    db.session.flush()
    entries.refresh([thread.id])
