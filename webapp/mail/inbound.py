"""The inbound pipeline: store the raw bytes first, classify later (in the worker)."""

import logging
from datetime import timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import lazyload, noload

from webapp.extensions import db
from webapp.mail.classify import Settings, classify, quarantine
from webapp.mail.parse import Limits, limit_violations, parse_file
from webapp.mail.storage import BlobStore
from webapp.models import INBOUND, Message
from webapp.models.types import utcnow

log = logging.getLogger(__name__)
CLAIMED = "classifying"
# A claim older than this belongs to a worker that died; the sweep hands the message out again.
STALE_CLAIM = timedelta(minutes=10)
DEFAULT_LIMITS = Limits()
# Built once with bound parameters: they run for every message (see classify.py).
_CLAIM = (
    update(Message)
    .where(Message.id == bindparam("claim_id"), Message.outcome.is_(None))
    .values(outcome=CLAIMED, classified_at=bindparam("now"))
)
# Nothing reads the eager-loaded relationships here, and a message never classified has no
# attachments yet: load the row alone (one query instead of two to five).
_CLAIMED_MESSAGE = (
    select(Message)
    .where(Message.id == bindparam("claim_id"))
    .options(lazyload("*"), noload(Message.attachments))
)


def store_inbound(
    raw: bytes, *, store: BlobStore, source: str, envelope_from=None, envelope_to=()
) -> Message:
    """Keep the bytes and an unclassified row (flushed); nothing is parsed yet, so nothing can fail."""
    now = utcnow()
    msg = Message(
        direction=INBOUND,
        status="received",
        raw_sha256=store.put(raw),
        raw_size=len(raw),
        source=source,
        envelope_from=(envelope_from or "")[:998] or None,
        envelope_to=[a.lower() for a in envelope_to],
        created_at=now,
        received_at=now,
        sort_at=now,
    )
    db.session.add(msg)
    db.session.flush()
    return msg


def claim(message_id: int) -> bool:
    """Compare-and-set NULL -> classifying, so two workers never classify one message."""
    result = db.session.execute(_CLAIM, {"claim_id": message_id, "now": utcnow()})
    db.session.commit()
    return result.rowcount == 1


def classify_stored(
    message_id: int, *, settings: Settings, store: BlobStore, limits: Limits = DEFAULT_LIMITS
) -> str | None:
    """Classify one stored message; a no-op if someone else did or is doing it. Commits."""
    if not claim(message_id):
        return db.session.scalar(select(Message.outcome).where(Message.id == message_id))
    msg = db.session.scalar(_CLAIMED_MESSAGE, {"claim_id": message_id})
    parsed = None
    try:
        # Parsed from the file in chunks: a big message is never in memory twice. The header
        # limit only needs the first header_bytes + 4 bytes to give the same verdict.
        with store.open(msg.raw_sha256) as fh:
            parsed, head = parse_file(fh, head_bytes=limits.header_bytes + 4)
        problems = (
            limit_violations(head, parsed.email, limits) if parsed.email is not None else ["unparseable"]
        )
        if problems:
            quarantine(msg, parsed, problems, utcnow())
            outcome = "quarantined"
        else:
            outcome = classify(msg, parsed, settings, store)
        db.session.commit()
        return outcome
    except Exception as exc:  # whatever the message does to us, it is kept, not lost
        log.exception("classifying message %s failed; quarantining it", message_id)
        db.session.rollback()
        msg = db.session.get(Message, message_id)
        quarantine(msg, parsed, [f"classification failed: {type(exc).__name__}: {exc}"[:500]], utcnow())
        db.session.commit()
        return "quarantined"


def unclassified_ids(min_age: timedelta = timedelta(seconds=30), limit: int = 1000) -> list[int]:
    """Stored messages nobody classified (Redis was down, a worker died); frees stale claims."""
    now = utcnow()
    db.session.execute(
        update(Message)
        .where(Message.outcome == CLAIMED, Message.classified_at < now - STALE_CLAIM)
        .values(outcome=None, classified_at=None)
    )
    db.session.commit()
    return list(
        db.session.scalars(
            select(Message.id)
            .where(
                Message.outcome.is_(None), Message.direction == INBOUND, Message.created_at < now - min_age
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )
