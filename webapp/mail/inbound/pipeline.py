"""The inbound pipeline: store the raw bytes first, classify later (in the worker)."""

import logging
from datetime import timedelta

from sqlalchemy import bindparam, select, update

from webapp.extensions import db
from webapp.mail.domain import MailDomain
from webapp.mail.inbound.classify import EARLIER_COPY, decide
from webapp.mail.inbound.filing import FILED_COLUMNS, file_decision, file_quarantine
from webapp.mail.inbound.parse import Limits, ParsedMail, limit_violations, parse_file
from webapp.mail.storage import BlobStore
from webapp.models import Direction, Message, Outcome, Status
from webapp.models.core import table_of
from webapp.models.types import utcnow

log = logging.getLogger(__name__)
# How many times the sweep queues a lost classification again before giving up on the message
# (quarantined, kept for an admin): one that kills its worker (out of memory...) must not
# come back forever.
MAX_REQUEUES = 3
DEFAULT_LIMITS = Limits()
_messages = table_of(Message)
# What classifying needs of the stored row (Core: no entity to load).
_STORED = select(
    _messages.c.id,
    _messages.c.outcome,
    _messages.c.raw_sha256,
    _messages.c.envelope_to,
    _messages.c.source,
    _messages.c.created_at,
    *(_messages.c[name] for name in FILED_COLUMNS),
    EARLIER_COPY,
).where(_messages.c.id == bindparam("message_id"))
_OUTCOME = select(_messages.c.outcome).where(_messages.c.id == bindparam("message_id"))


def store_inbound(
    raw: bytes, *, store: BlobStore, source: str, envelope_from=None, envelope_to=(), durable: bool = True
) -> Message:
    """Keep the bytes and an unclassified row (flushed); nothing is parsed yet, so nothing can fail.

    durable=False: the caller makes the blob durable itself before it commits (a batch at once).
    """
    now = utcnow()
    msg = Message(
        direction=Direction.INBOUND,
        status=Status.RECEIVED,
        raw_sha256=store.put(raw, durable=durable),
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


def classify_stored(
    message_id: int, *, settings: MailDomain, store: BlobStore, limits: Limits = DEFAULT_LIMITS
) -> str | None:
    """Classify one stored message in one transaction; a no-op if it is already classified. Commits.

    Nothing is written before the outcome: the row is filed only while still unclassified (a
    compare-and-set), so a second run, or a second worker, finds it done and changes nothing.
    A worker that dies half-way leaves it unclassified, for the sweep to queue again.
    """
    stored = db.session.execute(_STORED, {"message_id": message_id}).first()
    if stored is None or stored.outcome is not None:
        return stored.outcome if stored is not None else None
    now = utcnow()
    parsed = None
    try:
        parsed, head = _parse(stored, store, limits)
        filed, outcome = _file(stored, parsed, head, settings, store, limits, now)
        return _settle(message_id, filed, outcome)
    except Exception as exc:  # whatever the message does to us, it is kept, not lost
        log.exception("classifying message %s failed; quarantining it", message_id)
        db.session.rollback()
        problems = [f"classification failed: {type(exc).__name__}: {exc}"[:500]]
        return _settle(message_id, file_quarantine(message_id, parsed, problems, now), Outcome.QUARANTINED)


def classify_stored_together(
    message_ids: list[int], *, settings: MailDomain, store: BlobStore, limits: Limits = DEFAULT_LIMITS
) -> list[str | None]:
    """Classify messages stored together (a mailbox sync's batch) with one commit for all. Commits.

    The same classification as classify_stored, each message seeing those before it. Should
    any surprise come (a message that fails, one filed meanwhile by someone else), the batch is
    rolled back and each message classified on its own by classify_stored.
    """
    outcomes: list[str | None] = []
    now = utcnow()
    try:
        for message_id in message_ids:
            stored = db.session.execute(_STORED, {"message_id": message_id}).first()
            if stored is None or stored.outcome is not None:
                raise _Alone(message_id)
            parsed, head = _parse(stored, store, limits)
            filed, outcome = _file(stored, parsed, head, settings, store, limits, now)
            if not filed:
                raise _Alone(message_id)
            outcomes.append(outcome)
        db.session.commit()
        return outcomes
    except Exception:
        db.session.rollback()
        return [classify_stored(i, settings=settings, store=store, limits=limits) for i in message_ids]


class _Alone(Exception):
    """A message of a batch that must be classified on its own."""


def _parse(stored, store: BlobStore, limits: Limits) -> tuple[ParsedMail, bytes]:
    """The stored message parsed, and its head (enough for the header limit)."""
    # Parsed from the file in chunks: a big message is never in memory twice. The header
    # limit only needs the first header_bytes + 4 bytes to give the same verdict.
    with store.open(stored.raw_sha256) as fh:
        return parse_file(fh, head_bytes=limits.header_bytes + 4)


def _file(
    stored, parsed: ParsedMail, head: bytes, settings: MailDomain, store: BlobStore, limits: Limits, now
):
    """Decide and file one parsed message (uncommitted): (filed, outcome); filed False if it was already."""
    problems = limit_violations(head, parsed.email, limits) if parsed.email is not None else ["unparseable"]
    if problems:
        return file_quarantine(stored.id, parsed, problems, now), Outcome.QUARANTINED
    decision = decide(
        parsed,
        sha256=stored.raw_sha256,
        envelope_to=stored.envelope_to,
        settings=settings,
        own_id=stored.id,
        may_be_duplicate=stored.earlier_copy_id is not None,
    )
    return file_decision(stored, parsed, decision, store, now), decision.outcome


def _settle(message_id: int, filed: bool, outcome: str) -> str | None:
    """Commit what was filed; if someone else filed the message meanwhile, theirs stands."""
    if not filed:
        db.session.rollback()
        return db.session.scalar(_OUTCOME, {"message_id": message_id})
    db.session.commit()
    return outcome


def unclassified_ids(min_age: timedelta = timedelta(seconds=30), limit: int = 1000) -> list[int]:
    """Stored messages nobody classified (Redis was down, a worker died), oldest first."""
    now = utcnow()
    return list(
        db.session.scalars(
            select(Message.id)
            .where(
                Message.outcome.is_(None),
                Message.direction == Direction.INBOUND,
                Message.created_at < now - min_age,
            )
            .order_by(Message.id)
            .limit(limit)
        )
    )


def requeue_or_give_up(message_ids: list[int]) -> list[int]:
    """Count a requeue for each lost classification, quarantining those out of tries. Commits.

    `message_ids` are unclassified messages with no job waiting for them. Returns those to queue again.
    """
    ids = list(message_ids)
    if not ids:
        return []
    spent = set(
        db.session.scalars(
            select(_messages.c.id).where(
                _messages.c.id.in_(ids),
                _messages.c.outcome.is_(None),
                _messages.c.classify_requeues >= MAX_REQUEUES,
            )
        )
    )
    now = utcnow()
    problem = f"classification never finished: its worker stopped each time ({MAX_REQUEUES + 1} tries)"
    for message_id in sorted(spent):
        file_quarantine(message_id, None, [problem], now)
    again = [i for i in ids if i not in spent]
    db.session.execute(
        update(_messages)
        .where(_messages.c.id.in_(again), _messages.c.outcome.is_(None))
        .values(classify_requeues=_messages.c.classify_requeues + 1)
    )
    db.session.commit()
    if spent:
        log.warning("gave up classifying messages %s: quarantined", sorted(spent))
    return again
