"""The one way mail comes in: store and commit first, then wake a classifier."""

from dataclasses import dataclass, field

from sqlalchemy import insert, select

from webapp import changes
from webapp.extensions import db
from webapp.jobs.enqueue import wake_classifier
from webapp.mail.addresses import resolve
from webapp.mail.inbound.pipeline import unclassified_values
from webapp.models import Message, Thread, User
from webapp.models.core import RowsInsert, table_of
from webapp.models.types import utcnow
from webapp.services import blob_store, mail_domain

_messages = table_of(Message)
# The ids in the order of the rows given (one INSERT ... RETURNING for the batch). No page shows
# an unclassified message (no conversation yet): the pages kept stay (its classification moves
# them), and a batch costs no round trips to Redis for that.
_INSERT_ROWS = RowsInsert(
    _messages, insert(_messages).execution_options(**changes.SHOWN_NOWHERE), returning=_messages.c.id
)


@dataclass
class Arrival:
    """A message as it arrived: its bytes, how, and its SMTP envelope if any."""

    raw: bytes
    source: str
    envelope_from: str | None = None
    envelope_to: list[str] = field(default_factory=list)


def receive(raw: bytes, source: str, envelope_from: str | None = None, envelope_to=()) -> int:
    """Store `raw` (committed before returning), wake a classifier; returns the id."""
    [message_id] = receive_many([Arrival(raw, source, envelope_from, list(envelope_to))])
    return message_id


def receive_many(arrivals: list[Arrival]) -> list[int]:
    """Store a batch durably, committed before returning, then wake a classifier; returns the ids.

    One round of file syncs and one commit for the batch (group commit): a burst of mail
    costs one fsync and one commit per batch, not per message. Nothing is parsed, so
    nothing here depends on what the messages say.
    """
    shas = blob_store().put_many([a.raw for a in arrivals])
    now = utcnow()
    rows = [
        unclassified_values(sha, len(a.raw), a.source, a.envelope_from, a.envelope_to, now)
        for sha, a in zip(shas, arrivals, strict=True)
    ]
    # Core, one INSERT for the batch: the ORM's unit of work cost the listener ~0.1 ms a message.
    ids = _INSERT_ROWS(rows)
    db.session.commit()
    wake_classifier()
    return ids


def accepts(address: str) -> bool:
    """Whether `address` is one of ours that exists: user, any CV address, reply, bounce."""
    domain = mail_domain()
    target = resolve(address, domain.domain, domain.secret)
    if target is None:
        return False
    if target.kind == "user":
        return db.session.scalar(select(User.id).where(User.inbound_local == target.value)) is not None
    if target.kind == "cv":
        # Every cv+<anything>@ is accepted: an unknown slug lands in the company CV inbox (as
        # classification files it), and RCPT never tells an outsider which jobs exist.
        return True
    if target.kind == "reply":
        # Its id alone: loading the conversation joined its candidate and job, for every reply.
        return db.session.scalar(select(Thread.id).where(Thread.id == target.value)) is not None
    return True  # bounce: the signature already proved it is ours
