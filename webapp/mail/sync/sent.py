"""Mail the user sent from their own mail client (found in their Sent folder), filed as sent.

It becomes an outbound message by that user, status sent, in the conversation it answers (by
In-Reply-To/References) or a new one with the candidate it was sent to: it shows in their Sent
folder and in the conversation, marked as sent from their mail client (source "mailbox").
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, case, insert, or_, select, update

from webapp.extensions import db
from webapp.mail.inbound.classify import find_thread
from webapp.mail.inbound.filing import attachment_rows, parsed_fields
from webapp.mail.inbound.parse import ParsedMail
from webapp.mail.outbound.compose import candidate_of_files
from webapp.mail.storage import BlobStore
from webapp.models import Attachment, CandidateEmail, Direction, Message, Placement, Status, Thread
from webapp.models.core import table_of
from webapp.models.types import UTCDateTime

SOURCE = "mailbox"
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_messages, _threads = table_of(Message), table_of(Thread)
_AT = bindparam("at", type_=UTCDateTime())
_TOUCH = (
    update(_threads)
    .where(_threads.c.id == bindparam("thread_id"))
    .values(
        last_message_at=case(
            (or_(_threads.c.last_message_at.is_(None), _threads.c.last_message_at < _AT), _AT),
            else_=_threads.c.last_message_at,
        )
    )
)


def _candidates_of(addresses: set[str]) -> dict[str, int]:
    """The candidate of each of these addresses that is a candidate's (one query)."""
    if not addresses:
        return {}
    query = select(CandidateEmail.email, CandidateEmail.candidate_id).where(
        CandidateEmail.email.in_(sorted(addresses))
    )
    return {row.email: row.candidate_id for row in db.session.execute(query)}


def _single_offers(candidate_ids: set[int]) -> dict[int, int]:
    """The offer of each of these candidates placed on exactly one (one query)."""
    if not candidate_ids:
        return {}
    offers: dict[int, list[int]] = {}
    query = select(Placement.candidate_id, Placement.offer_id).where(
        Placement.candidate_id.in_(sorted(candidate_ids))
    )
    for row in db.session.execute(query):
        offers.setdefault(row.candidate_id, []).append(row.offer_id)
    return {c: found[0] for c, found in offers.items() if len(found) == 1}


@dataclass
class _Filing:
    """One sent message on its way, and its conversation (known, or new in this group)."""

    parsed: ParsedMail
    sent_at: datetime
    candidate_id: int | None
    carries: str | None
    attachments: list[dict]
    thread_id: int | None = None  # a conversation already here
    new_thread: int | None = None  # else the index of the one this group starts (or joins)


def file_sent(message_id: int, user_id: int, parsed: ParsedMail, store: BlobStore, now: datetime) -> int:
    """Turn one stored (unclassified) message into the user's sent mail; its conversation id. Flushes."""
    return file_sent_group([(message_id, parsed)], user_id, store, now)[0]


def file_sent_group(
    stored: list[tuple[int, ParsedMail]], user_id: int, store: BlobStore, now: datetime
) -> list[int]:
    """Turn stored (unclassified) messages into the user's sent mail; their conversation ids. Flushes.

    The caller refreshes the conversations' folder entries (entries.refresh), once for a batch.
    """
    if not stored:
        return []
    db.session.flush()
    values, attachments = sent_columns([parsed for _, parsed in stored], user_id, store, now)
    db.session.execute(_FILE, [v | {"row_id": row_id} for v, (row_id, _) in zip(values, stored, strict=True)])
    insert_attachments([row_id for row_id, _ in stored], attachments)
    return [v["thread_id"] for v in values]


def sent_columns(
    group: list[ParsedMail], user_id: int, store: BlobStore, now: datetime
) -> tuple[list[dict], list[list[dict]]]:
    """The columns of each message filed as the user's sent mail, and its attachment rows. Flushes.

    A group at once: one statement each for the candidates, the offers, the new conversations
    and the conversations touched (filing them one by one cost about 2 ms a message); the
    caller writes the rows with these columns (in its INSERT: no second write of each row),
    then the attachments (insert_attachments). A message that answers one earlier in the
    group joins its conversation. The keys of the columns are the same for every message.
    """
    candidates = _candidates_of({a.lower() for p in group for a in p.to + p.cc})
    filings: list[_Filing] = []
    # Conversations by the Message-IDs filed in this group: (known thread id, new thread index).
    in_group: dict[str, tuple[int | None, int | None]] = {}
    new_threads: list[_Filing] = []  # the first message of each new conversation
    for parsed in group:
        sent_at = parsed.date if parsed.date is not None and parsed.date <= now else now
        candidate_id = next(
            (candidates[a.lower()] for a in parsed.to + parsed.cc if a.lower() in candidates), None
        )
        filing = _Filing(parsed, sent_at, candidate_id, None, attachment_rows(parsed, store))
        earlier = next((in_group[m] for m in reversed(_answers(parsed)) if m in in_group), None)
        thread = None if earlier is not None else find_thread(parsed, [])[0]
        if candidate_id is None and (thread is None or thread.candidate_id is None) and earlier is None:
            # A candidate's CV forwarded from the mail client stays in their scope, as from compose.
            shas = [a["sha256"] for a in filing.attachments if not a["is_inline"]]
            filing.candidate_id = candidate_of_files(shas)
            filing.carries = "cv" if filing.candidate_id is not None else None
        if earlier is not None:
            filing.thread_id, filing.new_thread = earlier
            if filing.new_thread is not None:
                filing.candidate_id = filing.candidate_id or new_threads[filing.new_thread].candidate_id
        elif thread is not None:
            filing.thread_id = thread.id
            filing.candidate_id = filing.candidate_id or thread.candidate_id
        else:
            filing.new_thread = len(new_threads)
            new_threads.append(filing)
        if parsed.message_id:
            in_group[parsed.message_id] = (filing.thread_id, filing.new_thread)
        filings.append(filing)
    _start_threads(new_threads, filings, now)
    touched = [{"thread_id": f.thread_id, "at": f.sent_at} for f in filings if f.new_thread is None]
    if touched:
        db.session.execute(_TOUCH, touched)
    return [_sent_values(f, user_id) for f in filings], [f.attachments for f in filings]


def insert_attachments(row_ids: list[int], attachments: list[list[dict]]) -> None:
    """The attachment rows of these messages (one INSERT)."""
    rows = [
        row | {"message_id": row_id}
        for row_id, found in zip(row_ids, attachments, strict=True)
        for row in found
    ]
    if rows:
        db.session.execute(insert(table_of(Attachment)), rows)


def _answers(parsed: ParsedMail) -> list[str]:
    """The Message-IDs a message answers (In-Reply-To, References)."""
    return _MESSAGE_ID.findall(f"{parsed.in_reply_to or ''} {parsed.references or ''}")


def _start_threads(new_threads: list[_Filing], filings: list[_Filing], now: datetime) -> None:
    """Insert the group's new conversations (one INSERT) and give their messages the ids."""
    if not new_threads:
        return
    offers = _single_offers({f.candidate_id for f in new_threads if f.candidate_id is not None})
    last_at: dict[int, datetime] = {}
    for filing in filings:
        if filing.new_thread is not None:
            last_at[filing.new_thread] = max(last_at.get(filing.new_thread, filing.sent_at), filing.sent_at)
    rows = [
        {
            "subject": f.parsed.subject[:998],
            "candidate_id": f.candidate_id,
            "offer_id": offers.get(f.candidate_id) if f.candidate_id is not None else None,
            "last_message_at": last_at[index],
            "created_at": now,
        }
        for index, f in enumerate(new_threads)
    ]
    ids = list(db.session.scalars(_NEW_THREADS, rows))
    for filing in filings:
        if filing.new_thread is not None:
            filing.thread_id = ids[filing.new_thread]


def _sent_values(filing: _Filing, user_id: int) -> dict:
    """The row's columns once filed as sent (the keys are the same for every message)."""
    return parsed_fields(filing.parsed) | {
        "direction": Direction.OUTBOUND,
        "status": Status.SENT,
        "sender_id": user_id,
        "candidate_id": filing.candidate_id,
        "carries": filing.carries,
        "thread_id": filing.thread_id,
        "sent_at": filing.sent_at,
        "sort_at": filing.sent_at,
        "received_at": None,
        "envelope_to": [],
    }


_NEW_THREADS = insert(_threads).returning(_threads.c.id, sort_by_parameter_order=True)
# Executed with a list of rows (file_sent_group): SET from the rows' keys.
_FILE = update(_messages).where(_messages.c.id == bindparam("row_id"))
