"""Write a classification: the message row, its conversation, attachments, recipients, bounce.

Core statements in the caller's transaction: the ORM's unit of work cost more than the SQL it
wrote. The message row only changes while it is still unclassified (outcome NULL); that
compare-and-set is what keeps a job run twice, or two workers, from filing one message twice.
"""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Date, Row, bindparam, case, insert, or_, update

from webapp.extensions import db
from webapp.mail.inbound.bounce import BounceReport
from webapp.mail.inbound.classify import Decision
from webapp.mail.inbound.parse import ParsedMail
from webapp.mail.read import entries
from webapp.mail.storage import BlobStore
from webapp.models import (
    Attachment,
    BounceRecipient,
    Candidate,
    CandidateEmail,
    DeliveryState,
    Direction,
    Message,
    MessageRecipient,
    Outcome,
    Status,
    Thread,
)
from webapp.models.core import InList, RowsInsert, execute_dml, table_of
from webapp.models.types import UTCDateTime

_messages, _threads = table_of(Message), table_of(Thread)
# The columns a classification sets. The caller reads them with the stored row, so only those
# that change are written: SQLite rewrites every index (and runs the search trigger) over a
# column named in the SET clause, even when its value stays the same.
FILED_COLUMNS = (
    "message_id",
    "in_reply_to",
    "references",
    "from_address",
    "from_name",
    "to_addresses",
    "cc_addresses",
    "subject",
    "snippet",
    "body_text",
    "body_html",
    "has_attachments",
    "outcome",
    "outcome_reason",
    "classified_at",
    "candidate_id",
    "is_internal",
    "shown_to_participants",
    "sender_auth",
    "is_auto_reply",
    "is_cv",
    "cv_offer_id",
    "sender_id",
    "received_at",
    "sort_at",
    "thread_id",
    "bounced_message_id",
    "away_until",
)
# The SET columns come with each call's parameters; "msg_id" names the row (not a column).
_FILE = update(_messages).where(_messages.c.id == bindparam("msg_id"), _messages.c.outcome.is_(None))
_NEW_THREAD = insert(_threads)
_ADD_ATTACHMENTS = insert(table_of(Attachment))
_ADD_RECIPIENTS = RowsInsert(table_of(MessageRecipient))
_AT = bindparam("at", type_=UTCDateTime())
# New mail moves the conversation's activity forward (never back) and brings it out of the archive.
_TOUCH = (
    update(_threads)
    .where(_threads.c.id == bindparam("thread_id"))
    .values(
        last_message_at=case(
            (or_(_threads.c.last_message_at.is_(None), _threads.c.last_message_at < _AT), _AT),
            else_=_threads.c.last_message_at,
        ),
        is_archived=False,
        archived_at=None,
        archived_by_id=None,
    )
)
# The candidate replied: the conversation's mail scheduled before that waits for its author.
_HOLD = (
    update(_messages)
    .where(
        _messages.c.thread_id == bindparam("conversation"),
        _messages.c.direction == Direction.OUTBOUND,
        _messages.c.status == Status.SCHEDULED,
        _messages.c.held_at.is_(None),
        _messages.c.created_at < bindparam("replied_at", type_=UTCDateTime()),
    )
    .values(held_at=bindparam("hold_at", type_=UTCDateTime()))
)
# A bounce changes the sent message only from the states the report can apply to.
_FAIL_SENT = (
    update(_messages)
    .where(
        _messages.c.id == bindparam("outbound_id"),
        _messages.c.status.in_((Status.SENT, Status.SENDING, Status.FAILED)),
    )
    .values(status=Status.FAILED, delivery_state=DeliveryState.BOUNCED, error=bindparam("reason"))
)
_DELAY_SENT = (
    update(_messages)
    .where(
        _messages.c.id == bindparam("outbound_id"),
        _messages.c.status == Status.SENT,
        or_(_messages.c.delivery_state.is_(None), _messages.c.delivery_state != DeliveryState.BOUNCED),
    )
    .values(delivery_state=DeliveryState.DELAYED, error=bindparam("reason"))
)


_candidate_emails = table_of(CandidateEmail)
_ADD_BOUNCE_RECIPIENTS = insert(table_of(BounceRecipient))
# Only the candidate's own address that we wrote to: a report cannot mark anyone else's.
_ADDRESS_FAILING = (
    update(_candidate_emails)
    .where(
        _candidate_emails.c.candidate_id == bindparam("owner_id"),
        _candidate_emails.c.email == bindparam("address"),
    )
    .values(failing_since=bindparam("since", type_=UTCDateTime()), failing_reason=bindparam("why"))
)
_ADDRESS_WORKS = (
    update(_candidate_emails)
    .where(
        InList(_candidate_emails.c.email, "addresses"),
        _candidate_emails.c.failing_since.is_not(None),
    )
    .values(failing_since=None, failing_reason=None)
)


_candidates = table_of(Candidate)
_AWAY = (
    update(_candidates)
    .where(_candidates.c.id == bindparam("owner_id"))
    .values(away_until=bindparam("until", type_=Date()))
)
_BACK = (
    update(_candidates)
    .where(InList(_candidates.c.id, "owner_ids"), _candidates.c.away_until.is_not(None))
    .values(away_until=None)
)


@dataclass
class Deferred:
    """Writes a drain's group makes once, at its commit (see deferred_writes).

    Each would be a statement a message; nothing classification reads depends on them, and
    what the group's commit computes from them (the folder entries read the recipients) comes
    after they are written.
    """

    addresses: set[str] = field(default_factory=set)  # a candidate's address works again
    candidates: set[int] = field(default_factory=set)  # a candidate is back
    recipients: list[dict] = field(default_factory=list)  # message_recipients rows
    holds: list[dict] = field(default_factory=list)  # _HOLD's parameters, a conversation each


_DEFERRED: ContextVar[Deferred | None] = ContextVar("deferred_writes", default=None)


@contextlib.contextmanager
def deferred_writes(into: Deferred) -> Iterator[Deferred]:
    """Within, "this address works", "this candidate is back", a message's recipients and the
    holds of scheduled mail are only noted in `into`: the caller writes them with
    write_deferred, later in the same transaction (a drain's group: a few statements for the
    group instead of up to four a message). Marking an address failing or a candidate away
    writes the noted clears first: the order stands."""
    token = _DEFERRED.set(into)
    try:
        yield into
    finally:
        _DEFERRED.reset(token)


def write_deferred(deferred: Deferred) -> None:
    """Write the noted writes, then forget them."""
    _ADD_RECIPIENTS(deferred.recipients)
    if deferred.holds:
        db.session.execute(_HOLD, deferred.holds)
    deferred.recipients, deferred.holds = [], []
    _write_clears(deferred)


def _write_clears(deferred: Deferred | None) -> None:
    """Write the noted clears only (before a later failure or absence of the same candidate)."""
    if deferred is None:
        return
    if deferred.addresses:
        db.session.execute(_ADDRESS_WORKS, {"addresses": sorted(deferred.addresses)})
    if deferred.candidates:
        db.session.execute(_BACK, {"owner_ids": sorted(deferred.candidates)})
    deferred.addresses.clear()
    deferred.candidates.clear()


def parsed_fields(parsed: ParsedMail) -> dict:
    """The message's columns that come from parsing it."""
    return {
        "message_id": (parsed.message_id or "")[:998] or None,
        "in_reply_to": parsed.in_reply_to,
        "references": parsed.references,
        "from_address": parsed.from_address[:254],
        "from_name": parsed.from_name[:200],
        "to_addresses": parsed.to,
        "cc_addresses": parsed.cc,
        "subject": parsed.subject,
        "snippet": parsed.snippet,
        "body_text": parsed.text,
        "body_html": parsed.html,
        "has_attachments": any(not a.is_inline for a in parsed.attachments),
    }


def attachment_rows(parsed: ParsedMail, store: BlobStore) -> list[dict]:
    """Store the attachments' bytes; their rows, without the message id."""
    return [
        {
            "filename": part.filename,
            "content_type": part.content_type[:255],
            "size": len(part.data),
            "sha256": store.put(part.data, durable=False),  # the raw, kept durably, holds it too
            "is_inline": part.is_inline,
            "content_id": (part.content_id or "")[:255] or None,
        }
        for part in parsed.attachments
    ]


def file_decision(
    stored: Row, parsed: ParsedMail, decision: Decision, store: BlobStore, now: datetime
) -> bool:
    """Write `decision` onto the stored message; False (nothing written) if it was already filed.

    `stored` has the row's id, source, created_at and FILED_COLUMNS. The caller commits, or rolls
    back on False (a new conversation may have been inserted).
    """
    received_at, sort_at = _received_and_sort_at(stored, parsed, now)
    attachments = attachment_rows(parsed, store)  # blobs before the transaction takes its write lock
    in_folders = _in_folders(decision)
    thread_id = _conversation_id(parsed, decision, sort_at) if in_folders else None
    bounced = decision.bounced if in_folders and decision.bounce is not None else None
    placed = {  # when and where the message is filed
        "received_at": received_at,
        "sort_at": sort_at,
        "thread_id": thread_id,
        "bounced_message_id": bounced.id if bounced is not None else None,
    }
    if not _file_if_unfiled(stored, parsed_fields(parsed) | _decision_fields(decision, now) | placed):
        return False
    if attachments:
        db.session.execute(_ADD_ATTACHMENTS, [row | {"message_id": stored.id} for row in attachments])
    if decision.bounce is not None:
        _add_bounce_recipients(stored.id, decision.bounce)
    elif decision.candidate_id is not None and decision.outcome != Outcome.DUPLICATE:
        _address_works(parsed.from_address)
        _candidate_away(decision)
    if in_folders:
        _touch_conversation(decision, sort_at)
        _hold_scheduled(decision, thread_id, received_at, now)
        if bounced is not None and decision.bounce is not None:  # bounced is only set with its report
            _record_bounce(bounced, decision.bounce, now)
        _add_recipients(stored.id, decision.recipient_user_ids)
        entries.refresh([thread_id, bounced.thread_id if bounced is not None else None])
    return True


def _decision_fields(decision: Decision, now: datetime) -> dict:
    """The message's columns that say how it was classified."""
    return {
        "outcome": decision.outcome,
        "outcome_reason": decision.reason[:2000],
        "classified_at": now,
        "candidate_id": decision.candidate_id,
        "is_internal": decision.is_internal,
        "shown_to_participants": decision.shown_to_participants,
        "sender_auth": decision.sender_auth,
        "is_auto_reply": decision.is_note,
        "is_cv": decision.is_cv,
        "cv_offer_id": decision.cv_offer_id,
        "sender_id": decision.sender_user_id if decision.is_internal else None,
        "away_until": decision.away_until,
    }


def _in_folders(decision: Decision) -> bool:
    """Whether the message joins or opens a conversation, and so shows in folders.

    A duplicate, and an auto-reply to nothing we know, are stored and counted but in no folder.
    """
    return not (
        decision.outcome == Outcome.DUPLICATE
        or (decision.outcome == Outcome.AUTO_REPLY and decision.thread is None)
    )


def _received_and_sort_at(stored: Row, parsed: ParsedMail, now: datetime) -> tuple[datetime, datetime]:
    """When the message arrived, and the time it sorts by."""
    received_at = stored.received_at or stored.created_at
    # An imported archive, or a synced mailbox, keeps its chronology (a Date in the future does not count).
    if stored.source in ("import", "mailbox") and parsed.date is not None and parsed.date < now:
        return received_at, parsed.date
    return received_at, received_at


def _conversation_id(parsed: ParsedMail, decision: Decision, sort_at: datetime) -> int:
    """The conversation the message joins, opened now if it starts one."""
    return decision.thread.id if decision.thread is not None else _new_thread(parsed, decision, sort_at)


def _file_if_unfiled(stored: Row, values: dict) -> bool:
    """The compare-and-set: write the values that change, only while the row is unclassified."""
    was = stored._mapping
    changed = {name: value for name, value in values.items() if value != was[name]}
    return execute_dml(_FILE, changed | {"msg_id": stored.id}).rowcount == 1


def _touch_conversation(decision: Decision, sort_at: datetime) -> None:
    """Move a known conversation's activity to this message and out of the archive (notes do not)."""
    thread = decision.thread
    if thread is None or decision.is_note:
        return
    if thread.is_archived or thread.last_message_at is None or sort_at > thread.last_message_at:
        db.session.execute(_TOUCH, {"thread_id": thread.id, "at": sort_at})


def _hold_scheduled(decision: Decision, thread_id: int | None, received_at: datetime, now: datetime) -> None:
    """The candidate wrote: what the conversation still has scheduled to send waits for its
    author ("Held: Wei replied after you scheduled this"), who confirms or edits it."""
    if thread_id is None or decision.is_note or decision.is_internal or decision.candidate_id is None:
        return
    if decision.thread is None:  # a conversation it opens has nothing scheduled yet
        return
    if decision.outcome not in (Outcome.REPLY, Outcome.CANDIDATE):
        return
    hold = {"conversation": thread_id, "replied_at": received_at, "hold_at": now}
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.holds.append(hold)
    else:
        db.session.execute(_HOLD, hold)


def _add_recipients(message_id: int, user_ids: list[int]) -> None:
    """The team members whose Inbox the message reaches (each once)."""
    recipients = [{"message_id": message_id, "user_id": u} for u in dict.fromkeys(user_ids)]
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.recipients += recipients
    else:
        _ADD_RECIPIENTS(recipients)


def _new_thread(parsed: ParsedMail, decision: Decision, sort_at: datetime) -> int:
    """Open the conversation the message starts; its id."""
    result = execute_dml(
        _NEW_THREAD,
        {
            "subject": parsed.subject[:998],
            "candidate_id": decision.candidate_id,
            "offer_id": decision.offer_id,
            "last_message_at": sort_at,
        },
    )
    key = result.inserted_primary_key
    if key is None:  # never for a one-row INSERT; SQLAlchemy types it as optional
        raise RuntimeError("the new conversation has no id")
    return key[0]


def _record_bounce(outbound: Row, report: BounceReport, now: datetime) -> None:
    """A failure fails the sent message (with the server's reason); a delay only says so.

    A hard failure also marks the candidate's failed addresses as not working.
    """
    reason = report.diagnostic or ("delivery delayed" if report.is_delay else "delivery failed")
    if report.status and report.status not in reason:  # most servers' words quote it already
        reason = f"{report.status} {reason}"
    if report.is_delay:
        db.session.execute(_DELAY_SENT, {"outbound_id": outbound.id, "reason": f"Delayed: {reason}"[:2000]})
        return
    db.session.execute(_FAIL_SENT, {"outbound_id": outbound.id, "reason": reason[:2000]})
    hard = [f for f in report.failures if f.kind == "hard"]
    if hard and outbound.candidate_id is not None:
        _write_clears(_DEFERRED.get())  # an earlier message's "works" comes before this failure
        db.session.execute(
            _ADDRESS_FAILING,
            [
                {
                    "owner_id": outbound.candidate_id,
                    "address": f.address,
                    "since": now,
                    "why": _with_status(f.status, f.diagnostic)[:2000],
                }
                for f in hard
            ],
        )


def _with_status(status: str | None, words: str) -> str:
    return f"{status} {words}".strip() if status and status not in words else words


def _add_bounce_recipients(message_id: int, report: BounceReport) -> None:
    """Every recipient the report names, with its status, kind, words and reporting server."""
    rows = [
        {
            "message_id": message_id,
            "address": f.address[:254],
            "status": (f.status or "")[:16] or None,
            "kind": f.kind,
            "diagnostic": f.diagnostic[:2000],
            "reporting_mta": f.reporting_mta[:255],
        }
        for f in report.failures[:100]  # a report naming more is not about one message of ours
    ]
    if rows:
        db.session.execute(_ADD_BOUNCE_RECIPIENTS, rows)


def _candidate_away(decision: Decision) -> None:
    """An out-of-office names the candidate's return date; their own mail says they are back."""
    deferred = _DEFERRED.get()
    if decision.away_until is not None:
        _write_clears(deferred)  # an earlier message's "back" comes before this "away"
        db.session.execute(_AWAY, {"owner_id": decision.candidate_id, "until": decision.away_until})
    elif decision.outcome != Outcome.AUTO_REPLY and decision.candidate_id is not None:
        if deferred is not None:
            deferred.candidates.add(decision.candidate_id)
        else:
            db.session.execute(_BACK, {"owner_ids": [decision.candidate_id]})


def _address_works(address: str) -> None:
    """Mail from a candidate's address proves it works again: clear what a bounce said."""
    if not address:
        return
    deferred = _DEFERRED.get()
    if deferred is not None:
        deferred.addresses.add(address.lower())
    else:
        db.session.execute(_ADDRESS_WORKS, {"addresses": [address.lower()]})


def file_quarantine(message_id: int, parsed: ParsedMail | None, problems: list[str], now: datetime) -> bool:
    """Keep the message out of every folder, with what was wrong; False if it was already filed."""
    values = {
        "msg_id": message_id,
        "status": Status.QUARANTINED,
        "outcome": Outcome.QUARANTINED,
        "outcome_reason": "; ".join(problems)[:2000],
        "defects": (list(parsed.defects) if parsed else []) + problems,
        "classified_at": now,
        "thread_id": None,
    }
    if parsed is not None:
        values |= {
            "subject": parsed.subject[:2000],
            "from_address": parsed.from_address[:254],
            "from_name": parsed.from_name[:200],
            "message_id": (parsed.message_id or "")[:998] or None,
        }
    return execute_dml(_FILE, values).rowcount == 1
