"""Per-user read state of messages."""

from sqlalchemy import delete
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.models import Direction, Message, MessageRead
from webapp.models.types import utcnow


def _insert_ignoring_duplicates(rows: list[dict]) -> None:
    # Two tabs opening the same thread at once must not fail on the primary key.
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    db.session.execute(insert(MessageRead).values(rows).on_conflict_do_nothing())


def mark_read(user_id: int, messages: list[Message]) -> None:
    """Mark the inbound messages among `messages` read for this user only."""
    ids = [m.id for m in messages if m.direction == Direction.INBOUND]
    if ids:
        now = utcnow()
        _insert_ignoring_duplicates([{"user_id": user_id, "message_id": i, "read_at": now} for i in ids])


def mark_unread(user_id: int, message_ids: list[int]) -> None:
    """Forget that the user read these messages."""
    db.session.execute(
        delete(MessageRead).where(MessageRead.user_id == user_id, MessageRead.message_id.in_(message_ids))
    )
