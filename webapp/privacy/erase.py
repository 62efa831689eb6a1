"""Erase a candidate: every message with them or about them, their files, and the profile.

What stays is the audit row saying who erased which candidate (by id) and when, with counts.
A later message from one of their addresses arrives as a stranger's: the addresses go with
the profile. The view commits, then removes the freed files (`purge.forget_blobs`), the
jobs that named the messages (`traces.forget_jobs`) and the pages kept in Redis
(`page_cache.forget_all`).
"""

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, or_, select, update

from webapp import audit
from webapp.extensions import db
from webapp.mail.read.search import matching
from webapp.mail.storage import BlobStore
from webapp.models import AuditLog, Candidate, Direction, Message, OfferAccess, Outcome, Status, Thread, User
from webapp.privacy import purge


class EraseError(Exception):
    """The erase cannot happen now (the reason is shown as it is)."""


@dataclass
class Erased:
    """What an erase removed: the rows (and the files to remove after the commit)."""

    candidate_id: int
    addresses: list[str]
    message_ids: list[int]
    purged: purge.Purged


def may_manage(user: User, candidate: Candidate) -> bool:
    """Whether `user` may erase or export the candidate: an admin, or a recruiter on every
    offer the candidate is placed on (and on at least one: an unplaced candidate is an admin's)."""
    if user.is_admin:
        return True
    offers = {p.offer_id for p in candidate.placements}
    if not offers:
        return False
    mine = set(db.session.scalars(select(OfferAccess.offer_id).where(OfferAccess.user_id == user.id)))
    return offers <= mine


def mail_of(candidate: Candidate, store: BlobStore) -> tuple[list[int], list[int]]:
    """(message ids, conversation ids) with the candidate or naming one of their addresses:
    delivered, sent, imported by a mailbox sync, or stored and not classified yet."""
    addresses = [e.email.lower() for e in candidate.emails]
    threads = set(db.session.scalars(select(Thread.id).where(Thread.candidate_id == candidate.id)))
    ids = set(
        db.session.scalars(
            select(Message.id).where(
                or_(Message.candidate_id == candidate.id, Message.from_address.in_(addresses or [""]))
            )
        )
    )
    for address in addresses:
        ids |= _mentioning(address)
    ids |= _unread_yet(addresses, store)
    # Delivery reports about mail to them name their address too.
    if ids:
        ids |= set(db.session.scalars(select(Message.id).where(Message.bounced_message_id.in_(ids))))
    return sorted(ids), sorted(threads)


def _mentioning(address: str) -> set[int]:
    """Messages whose sender, recipients, subject or text contain the address (search narrows,
    then each is checked: the index matches words, not the whole address)."""
    found = matching(address)
    if found is None:
        return set()
    rows = db.session.execute(
        select(
            Message.id,
            Message.subject,
            Message.body_text,
            Message.from_address,
            cast(Message.to_addresses, String),
            cast(Message.cc_addresses, String),
            cast(Message.bcc_addresses, String),
        ).where(found.indexed)
    )
    return {row[0] for row in rows if any(address in (text or "").lower() for text in row[1:])}


def _unread_yet(addresses: list[str], store: BlobStore) -> set[int]:
    """Inbound mail stored but not classified yet (a delivery or a mailbox sync waiting for the
    classify queue) or quarantined, whose bytes name an address: such a row has no sender or
    text to search yet, only its raw message."""
    if not addresses:
        return set()
    wanted = [a.encode() for a in addresses]
    rows = db.session.execute(
        select(Message.id, Message.raw_sha256).where(
            Message.direction == Direction.INBOUND,
            or_(Message.outcome.is_(None), Message.outcome == Outcome.QUARANTINED),
            Message.raw_sha256.is_not(None),
        )
    )
    found = set()
    for message_id, sha in rows:
        try:
            raw = store.get(sha).lower()
        except FileNotFoundError:
            continue
        if any(w in raw for w in wanted):
            found.add(message_id)
    return found


def erase_candidate(actor: User, candidate: Candidate, store: BlobStore) -> Erased:
    """Delete the candidate and their mail (in the caller's transaction), audit-logged. Flushes."""
    addresses = [e.email.lower() for e in candidate.emails]
    message_ids, thread_ids = mail_of(candidate, store)
    sending = select(Message.id).where(
        Message.id.in_(message_ids or [0]) | Message.thread_id.in_(thread_ids or [0]),
        Message.status == Status.SENDING,
    )
    if db.session.scalar(sending.limit(1)) is not None:
        raise EraseError(_l("A message to this person is being sent right now. Try again in a minute."))
    candidate_id = candidate.id
    scrub_audit(candidate_id, message_ids, addresses)
    done = purge.purge(message_ids, thread_ids)
    db.session.delete(db.session.get(Candidate, candidate_id))  # addresses, placements, follows, files, links
    db.session.flush()
    audit.record(
        actor.id,
        "candidate_erased",
        "candidate",
        candidate_id,
        messages=done.messages,
        conversations=done.conversations,
        files=done.attachments,
    )
    db.session.flush()
    return Erased(candidate_id, addresses, message_ids, done)


def scrub_audit(candidate_id: int, message_ids: list[int], needles: list[str]) -> None:
    """Empty the details of earlier audit rows about the candidate or their mail (an address
    typed in a conversion, the sender of a discarded CV): the rows keep who did what, when."""
    conditions = [AuditLog.target_type == "candidate", AuditLog.target_id == candidate_id]
    db.session.execute(update(AuditLog).where(*conditions).values(details={}))
    for start in range(0, len(message_ids), purge.BATCH):
        chunk = message_ids[start : start + purge.BATCH]
        db.session.execute(
            update(AuditLog)
            .where(AuditLog.target_type == "message", AuditLog.target_id.in_(chunk))
            .values(details={})
        )
    for needle in needles:
        db.session.execute(
            update(AuditLog).where(cast(AuditLog.details, String).contains(needle)).values(details={})
        )
