"""Inbound classification: each stored message ends in exactly one outcome, with its reason.

The order matters (see the issue): duplicate, bounce, auto-reply, reply, incoming CV,
candidate, internal, non-candidate; anything that cannot be parsed safely is quarantined.
`decide` only reads the database (so `mail import --dry-run` can use it); `apply` writes.
"""

import contextlib
import functools
import re
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.orm import lazyload

from webapp.extensions import db
from webapp.mail.addresses import Target, resolve
from webapp.mail.autoreply import auto_reply_reason
from webapp.mail.bounce import BounceReport, parse_bounce
from webapp.mail.parse import ParsedMail
from webapp.mail.record import add_recipients, fill_from_parsed
from webapp.mail.storage import BlobStore
from webapp.models import OUTBOUND, CandidateEmail, Message, Offer, Placement, Thread, User
from webapp.models.types import utcnow

OUTCOMES = (
    "duplicate",
    "bounce",
    "auto_reply",
    "reply",
    "incoming_cv",
    "candidate",
    "internal",
    "non_candidate",
    "quarantined",
)
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# The look-ups below run for every inbound message: built once, with bound parameters, they
# skip SQLAlchemy's per-call construction and cache-key work (about a third of their cost).
_THREAD = select(Thread).where(Thread.id == bindparam("thread_id")).options(lazyload("*"))
_CANDIDATE_ID = select(CandidateEmail.candidate_id).where(CandidateEmail.email == bindparam("email"))
_BY_EMAIL = func.lower(User.email) == bindparam("sender")
_TEAM_MEMBERS = (
    select(User, _BY_EMAIL.label("by_email"))
    .where(or_(_BY_EMAIL, User.inbound_local.in_(bindparam("locals", expanding=True))))
    .order_by(User.id)
)
_THREAD_BY_REFERENCES = (
    select(Message.thread_id, Message.direction)
    .where(Message.message_id.in_(bindparam("ids", expanding=True)), Message.thread_id.is_not(None))
    .order_by(Message.id.desc())
    .limit(1)
)
_THREAD_WRITERS = (
    select(Message.sender_id)
    .where(Message.thread_id == bindparam("thread_id"), Message.sender_id.is_not(None))
    .distinct()
)
_OFFERS_OF = select(Placement.offer_id).where(Placement.candidate_id == bindparam("candidate_id")).limit(2)
_JOB_BY_SLUG = (
    select(Offer).where(Offer.slug == bindparam("slug"), Offer.kind == "job").options(lazyload("*"))
)


@dataclass
class Settings:
    domain: str
    secret: str


@dataclass
class Decision:
    """Where a message goes, and why."""

    outcome: str
    reason: str
    thread: Thread | None = None
    new_thread: bool = False
    candidate_id: int | None = None
    offer_id: int | None = None
    recipient_user_ids: list[int] = field(default_factory=list)
    sender_user_id: int | None = None
    is_internal: bool = False
    is_note: bool = False
    is_cv: bool = False
    cv_offer_id: int | None = None
    bounced: Message | None = None
    bounce: BounceReport | None = None


def recipient_addresses(parsed: ParsedMail, envelope_to) -> list[str]:
    """Everyone the message was delivered to: the envelope first, then the headers."""
    found = [a.lower() for a in envelope_to or []]
    msg = parsed.email
    for name in ("Delivered-To", "X-Original-To"):
        with contextlib.suppress(Exception):  # a malformed header must not stop classification
            found += [str(v).strip().strip("<>").lower() for v in (msg.get_all(name) or [])] if msg else []
    found += parsed.to + parsed.cc
    return list(dict.fromkeys(a for a in found if "@" in a))


def _targets(addresses: list[str], settings: Settings) -> list[Target]:
    return [t for t in (resolve(a, settings.domain, settings.secret) for a in addresses) if t]


def _team_members(sender: str, targets: list[Target], settings: Settings) -> tuple[User | None, list[int]]:
    """The team member who sent the message, and the ids of those it is addressed to (one query).

    The sender is the user whose login email is `sender`, else whose personal inbound address
    it is; the addressed users are those whose personal addresses are among `targets`.
    """
    addressed = [t.value for t in targets if t.kind == "user"]
    sender = sender.lower()
    own = resolve(sender, settings.domain, settings.secret) if sender else None
    wanted = addressed + ([own.value] if own and own.kind == "user" else [])
    if not sender and not wanted:
        return None, []
    rows = db.session.execute(_TEAM_MEMBERS, {"sender": sender, "locals": wanted}).all()
    sender_user = next((u for u, by_email in rows if sender and by_email), None)
    if sender_user is None and own and own.kind == "user":
        sender_user = next((u for u, _ in rows if u.inbound_local == own.value), None)
    return sender_user, [u.id for u, _ in rows if u.inbound_local in addressed]


def _thread(thread_id: int | None) -> Thread | None:
    """The conversation by id, without its eager-loaded candidate and offer (nothing here reads them)."""
    if thread_id is None:
        return None
    return db.session.scalar(_THREAD, {"thread_id": thread_id})


def _candidate_id(address: str) -> int | None:
    return db.session.scalar(_CANDIDATE_ID, {"email": address.lower()})


def _referenced_ids(parsed: ParsedMail) -> list[str]:
    ids = _MESSAGE_ID.findall(parsed.in_reply_to or "") + _MESSAGE_ID.findall(parsed.references or "")
    return list(dict.fromkeys(ids))[-50:]  # a hostile References header can be huge


def find_thread(parsed: ParsedMail, targets: list[Target]) -> tuple[Thread | None, str, bool]:
    """The known conversation this message answers: (thread, how it matched, answers our mail)."""
    for target in targets:
        if target.kind == "reply":
            thread = _thread(target.value)
            if thread is not None:
                return thread, "its reply address names the conversation", True
    ids = _referenced_ids(parsed)
    if ids:
        found = db.session.execute(_THREAD_BY_REFERENCES, {"ids": ids}).first()
        if found:
            return (
                _thread(found.thread_id),
                "In-Reply-To/References match",
                found.direction == OUTBOUND,
            )
    return None, "", False


def _thread_writers(thread: Thread) -> list[int]:
    """Team members who wrote in the conversation (they see its replies in their Inbox)."""
    return list(db.session.scalars(_THREAD_WRITERS, {"thread_id": thread.id}))


def _bounced_message(report: BounceReport, targets: list[Target]) -> tuple[Message | None, str]:
    for target in targets:
        if target.kind == "bounce":
            msg = db.session.get(Message, target.value, options=[lazyload("*")])
            if msg is not None and msg.direction == OUTBOUND:
                return msg, "its VERP return path names the message"
    if report.original_message_id:
        msg = db.session.scalar(
            select(Message)
            .where(Message.message_id == report.original_message_id, Message.direction == OUTBOUND)
            .order_by(Message.id.desc())
            .limit(1)
            .options(lazyload("*"))
        )
        if msg is not None:
            return msg, "the report quotes the message's Message-ID"
    return None, "no sent message matched"


@functools.cache
def _duplicate_query(has_message_id: bool, has_own_id: bool):
    """An earlier message with the same bytes (and Message-ID, when there is one)."""
    query = select(Message.id).where(
        Message.raw_sha256 == bindparam("sha"),
        or_(Message.outcome.is_(None), Message.outcome != "duplicate"),
    )
    if has_message_id:
        query = query.where(Message.message_id == bindparam("mid"))
    if has_own_id:
        query = query.where(Message.id < bindparam("own_id"))
    return query.limit(1)


def _single_offer(candidate_id: int | None) -> int | None:
    if candidate_id is None:
        return None
    offers = list(db.session.scalars(_OFFERS_OF, {"candidate_id": candidate_id}))
    return offers[0] if len(offers) == 1 else None


def decide(
    parsed: ParsedMail, *, sha256: str, envelope_to, settings: Settings, own_id: int | None = None
) -> Decision:
    """The outcome for a parsed message, reading (never writing) the database."""
    if parsed.message_id or sha256:
        query = _duplicate_query(bool(parsed.message_id), own_id is not None)
        original = db.session.scalar(query, {"sha": sha256, "mid": parsed.message_id, "own_id": own_id})
        if original is not None:
            return Decision("duplicate", f"same Message-ID and content as message #{original}")

    addresses = recipient_addresses(parsed, envelope_to)
    targets = _targets(addresses, settings)
    sender = parsed.from_address
    sender_user, addressed = _team_members(sender, targets, settings)
    candidate_id = _candidate_id(sender) if sender else None

    report = parse_bounce(parsed.email) if parsed.email is not None else None
    if report is not None:
        bounced, how = _bounced_message(report, targets)
        kind = "delivery delay" if report.is_delay else "delivery failure"
        if bounced is None:
            return Decision("bounce", f"{kind} report; {how}", new_thread=True, bounce=report)
        return Decision(
            "bounce",
            f"{kind} report for message #{bounced.id}; {how}",
            thread=_thread(bounced.thread_id),
            is_note=True,
            bounced=bounced,
            bounce=report,
            candidate_id=bounced.candidate_id,
        )

    thread, matched, answers_us = find_thread(parsed, targets)
    reason = auto_reply_reason(parsed.email) if parsed.email is not None else None
    if reason:
        if thread is None:
            return Decision(
                "auto_reply", f"{reason}; no conversation to attach it to", candidate_id=candidate_id
            )
        return Decision(
            "auto_reply",
            f"{reason}; attached as a note ({matched})",
            thread=thread,
            is_note=True,
            candidate_id=candidate_id or thread.candidate_id,
        )

    if thread is not None:
        is_internal = sender_user is not None
        recipients = addressed + (_thread_writers(thread) if answers_us else [])
        return Decision(
            "reply",
            matched + (" (from a team member)" if is_internal else ""),
            thread=thread,
            candidate_id=None if is_internal else (candidate_id or thread.candidate_id),
            recipient_user_ids=[u for u in recipients if u != (sender_user.id if sender_user else None)],
            sender_user_id=sender_user.id if sender_user else None,
            is_internal=is_internal,
        )

    for target in targets:
        if target.kind != "cv":
            continue
        offer = None
        if target.value:
            offer = db.session.scalar(_JOB_BY_SLUG, {"slug": target.value})
        where = f"the CV address of {offer.title}" if offer else "the company CV inbox"
        return Decision(
            "incoming_cv",
            f"sent to {where}",
            new_thread=True,
            is_cv=True,
            cv_offer_id=offer.id if offer else None,
            offer_id=offer.id if offer else None,
        )

    if candidate_id is not None:
        return Decision(
            "candidate",
            f"the sender {sender} is a candidate's address",
            new_thread=True,
            candidate_id=candidate_id,
            offer_id=_single_offer(candidate_id),
            recipient_user_ids=addressed,
        )
    if sender_user is not None:
        return Decision(
            "internal",
            f"the sender is team member {sender_user.email}",
            new_thread=True,
            recipient_user_ids=[u for u in addressed if u != sender_user.id],
            sender_user_id=sender_user.id,
            is_internal=True,
        )
    return Decision(
        "non_candidate",
        f"the sender {sender or '(none)'} is not in the candidate database",
        new_thread=True,
        recipient_user_ids=addressed,
    )


def apply(msg: Message, parsed: ParsedMail, decision: Decision, store: BlobStore, now: datetime) -> None:
    """Write the decision onto the stored message: fields, thread, recipients, bounce effects."""
    fill_from_parsed(msg, parsed, store)
    msg.outcome, msg.outcome_reason = decision.outcome, decision.reason[:2000]
    msg.classified_at = now
    msg.candidate_id = decision.candidate_id
    msg.is_internal = decision.is_internal
    msg.is_auto_reply = decision.is_note
    msg.is_cv, msg.cv_offer_id = decision.is_cv, decision.cv_offer_id
    msg.sender_id = decision.sender_user_id if decision.is_internal else None
    msg.received_at = msg.received_at or msg.created_at
    if msg.source == "import" and parsed.date and parsed.date < now:
        msg.sort_at = parsed.date  # an imported archive keeps its own chronology
    else:
        msg.sort_at = msg.received_at
    if decision.outcome == "duplicate" or (decision.outcome == "auto_reply" and decision.thread is None):
        msg.thread = None  # stored and counted, but in no folder
        db.session.flush()
        return
    thread = decision.thread
    if thread is None:
        thread = Thread(
            subject=parsed.subject[:998],
            candidate_id=decision.candidate_id,
            offer_id=decision.offer_id,
            last_message_at=msg.sort_at,
        )
        db.session.add(thread)
    msg.thread = thread
    if not decision.is_note:
        thread.touch(msg.sort_at)
        if thread.is_archived:  # new mail brings an archived conversation back
            thread.is_archived, thread.archived_at, thread.archived_by_id = False, None, None
    if decision.bounced is not None and decision.bounce is not None:
        _record_bounce(decision.bounced, decision.bounce, msg)
    add_recipients(msg, decision.recipient_user_ids)  # msg.id is known: one flush writes it all
    db.session.flush()


def _record_bounce(outbound: Message, report: BounceReport, bounce: Message) -> None:
    """A failure fails the sent message (with the server's reason); a delay only says so."""
    bounce.bounced_message_id = outbound.id
    reason = report.diagnostic or ("delivery delayed" if report.is_delay else "delivery failed")
    if report.status:
        reason = f"{report.status} {reason}"
    if report.is_delay:
        if outbound.status == "sent" and outbound.delivery_state != "bounced":
            outbound.delivery_state = "delayed"
            outbound.error = f"Delayed: {reason}"[:2000]
        return
    if outbound.status in ("sent", "sending", "failed"):
        outbound.status = "failed"
        outbound.delivery_state = "bounced"
        outbound.error = reason[:2000]


def quarantine(msg: Message, parsed: ParsedMail | None, problems: list[str], now: datetime) -> None:
    """Keep the message out of every folder, with what was wrong, for an admin to look at."""
    msg.status = "quarantined"
    msg.outcome = "quarantined"
    msg.outcome_reason = "; ".join(problems)[:2000]
    msg.defects = (list(parsed.defects) if parsed else []) + problems
    msg.classified_at = now
    msg.thread = None
    if parsed is not None:
        msg.subject = parsed.subject[:2000]
        msg.from_address = parsed.from_address[:254]
        msg.from_name = parsed.from_name[:200]
        msg.message_id = (parsed.message_id or "")[:998] or None
    db.session.flush()


def classify(msg: Message, parsed: ParsedMail, settings: Settings, store: BlobStore) -> str:
    """Decide and apply; returns the outcome."""
    now = utcnow()
    decision = decide(
        parsed, sha256=msg.raw_sha256, envelope_to=msg.envelope_to, settings=settings, own_id=msg.id
    )
    apply(msg, parsed, decision, store, now)
    return decision.outcome
