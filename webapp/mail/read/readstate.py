"""Per-user read state of messages."""

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from webapp.extensions import db
from webapp.mail.read import entries
from webapp.models import Direction, Message, MessageRead
from webapp.models.types import utcnow


def _insert_ignoring_duplicates(rows: list[dict]) -> int:
    """Insert the rows not there yet; how many were new."""
    # Two tabs opening the same thread at once must not fail on the primary key.
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING counts what was inserted on both databases (PostgreSQL's rowcount does not).
    statement = insert(MessageRead).values(rows).on_conflict_do_nothing().returning(MessageRead.message_id)
    return len(db.session.execute(statement).all())


def unread_ids(user_id: int, messages: list[Message]) -> list[int]:
    """The inbound messages among `messages` this user has not read (opening a pane reads, never writes)."""
    ids = [m.id for m in messages if m.direction == Direction.INBOUND]
    if not ids:
        return []
    read = set(
        db.session.scalars(
            select(MessageRead.message_id).where(
                MessageRead.user_id == user_id, MessageRead.message_id.in_(ids)
            )
        )
    )
    return [i for i in ids if i not in read]


def mark_read(user_id: int, messages: list[Message], up_to: int | None = None) -> None:
    """Mark the inbound messages among `messages` read for this user only.

    `up_to`: the newest message id the user was shown; mail that arrived since stays unread.
    """
    ids = [m.id for m in messages if m.direction == Direction.INBOUND and (up_to is None or m.id <= up_to)]
    if ids:
        now = utcnow()
        rows = [{"user_id": user_id, "message_id": i, "read_at": now} for i in ids]
        if _insert_ignoring_duplicates(rows):  # reading it again changes nothing
            entries.refresh({m.thread_id for m in messages}, user_ids=[user_id])


def mark_unread(user_id: int, message_ids: list[int]) -> None:
    """Forget that the user read these messages."""
    db.session.execute(
        delete(MessageRead).where(MessageRead.user_id == user_id, MessageRead.message_id.in_(message_ids))
    )
    threads = db.session.scalars(select(Message.thread_id).where(Message.id.in_(message_ids)).distinct())
    entries.refresh(threads, user_ids=[user_id])
