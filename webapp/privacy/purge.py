"""Delete messages for good: their rows, read states, copies, attachments and files on disk.

Shared by erasing a candidate and by retention. `purge` deletes the rows in the caller's
transaction and returns the blobs it freed; `forget_blobs` removes those files after the
commit (a rollback must not lose a file a row still names). Both are safe to run twice.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import delete, select, text, update

from webapp.extensions import db
from webapp.mail.read import entries
from webapp.mail.storage import BlobStore
from webapp.models import (
    Attachment,
    CandidateFile,
    Message,
    MessageRead,
    MessageRecipient,
    SentCopy,
    Thread,
)

BATCH = 500


@dataclass
class Purged:
    """What a purge deleted: counts to report, and the blobs to remove after the commit."""

    messages: int = 0
    conversations: int = 0
    attachments: int = 0
    blobs: set[str] = field(default_factory=set)


def purge(message_ids: Iterable[int], thread_ids: Iterable[int] = ()) -> Purged:
    """Delete these messages and conversations (with every message in them). Flushes.

    A conversation left with no message is deleted too; one that keeps messages has its
    folder entries recomputed.
    """
    db.session.flush()
    threads = set(thread_ids)
    ids = set(message_ids)
    if threads:
        ids |= set(db.session.scalars(select(Message.id).where(Message.thread_id.in_(threads))))
    done = Purged()
    if not ids and not threads:
        return done
    _secure_delete()
    touched = threads | {t for t in _column(Message.thread_id, Message.id, ids) if t is not None}
    # Out of the counters first: the cascade would delete their entries without counting them out.
    entries.forget(touched)
    for chunk in _chunks(sorted(ids)):
        _purge_batch(chunk, done)
    emptied = [t for t in touched if not _has_messages(t)]
    for chunk in _chunks(emptied):
        db.session.execute(delete(Thread).where(Thread.id.in_(chunk)))
    done.conversations = len(emptied)
    # Deleted conversations lose their entries; the others are recomputed without the messages.
    entries.refresh(touched)
    db.session.expire_all()
    return done


def _purge_batch(ids: list[int], done: Purged) -> None:
    done.blobs |= {s for s in _column(Message.raw_sha256, Message.id, ids) if s}
    attachments = list(
        db.session.execute(select(Attachment.id, Attachment.sha256).where(Attachment.message_id.in_(ids)))
    )
    done.blobs |= {sha for _id, sha in attachments}
    done.attachments += len(attachments)
    attachment_ids = [i for i, _sha in attachments]
    if attachment_ids:
        db.session.execute(delete(CandidateFile).where(CandidateFile.attachment_id.in_(attachment_ids)))
        db.session.execute(delete(Attachment).where(Attachment.id.in_(attachment_ids)))
    for model in (MessageRead, MessageRecipient, SentCopy):
        db.session.execute(delete(model).where(model.message_id.in_(ids)))
    # A delivery report about one of them stays (it is about our mail) but no longer points at it.
    db.session.execute(
        update(Message).where(Message.bounced_message_id.in_(ids)).values(bounced_message_id=None)
    )
    done.messages += db.session.execute(delete(Message).where(Message.id.in_(ids))).rowcount or 0  # type: ignore[attr-defined]


def forget_blobs(store: BlobStore, blobs: Iterable[str]) -> int:
    """Remove the files of `blobs` that no remaining message or attachment names; how many.

    Content-addressed: the same bytes kept by another message (a forwarded CV) stay.
    """
    removed = 0
    for chunk in _chunks(sorted(set(blobs))):
        kept = set(db.session.scalars(select(Message.raw_sha256).where(Message.raw_sha256.in_(chunk))))
        kept |= set(db.session.scalars(select(Attachment.sha256).where(Attachment.sha256.in_(chunk))))
        for sha in chunk:
            path = store.path(sha)
            if sha not in kept and path.exists():
                path.unlink()
                removed += 1
    return removed


def _secure_delete() -> None:
    """SQLite: overwrite deleted content with zeros instead of leaving it in free pages."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(text("PRAGMA secure_delete = ON"))


def _has_messages(thread_id: int) -> bool:
    return db.session.scalar(select(Message.id).where(Message.thread_id == thread_id).limit(1)) is not None


def _column(column, key, ids: Iterable[int]) -> list:
    found: list = []
    for chunk in _chunks(sorted(set(ids))):
        found += db.session.scalars(select(column).where(key.in_(chunk)))
    return found


def _chunks(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start : start + size]
