"""Mail the user sent from their own mail client (found in their Sent folder), filed as sent.

It becomes an outbound message by that user, status sent, in the conversation it answers (by
In-Reply-To/References) or a new one with the candidate it was sent to: it shows in their Sent
folder and in the conversation, marked as sent from their mail client (source "mailbox").
"""

from datetime import datetime

from sqlalchemy import bindparam, case, insert, or_, select, update

from webapp.extensions import db
from webapp.mail.inbound.classify import find_thread
from webapp.mail.inbound.filing import attachment_rows, parsed_fields
from webapp.mail.inbound.parse import ParsedMail
from webapp.mail.outbound.compose import candidate_of_files
from webapp.mail.storage import BlobStore
from webapp.models import Attachment, CandidateEmail, Direction, Message, Placement, Status, Thread
from webapp.models.core import execute_dml, table_of
from webapp.models.types import UTCDateTime

SOURCE = "mailbox"
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


def _candidate_of(addresses: list[str]) -> int | None:
    """The candidate of the first recipient address that is a candidate's."""
    wanted = [a.lower() for a in addresses]
    if not wanted:
        return None
    query = select(CandidateEmail.email, CandidateEmail.candidate_id).where(CandidateEmail.email.in_(wanted))
    rows = {row.email: row.candidate_id for row in db.session.execute(query)}
    return next((rows[a] for a in wanted if a in rows), None)


def _single_offer(candidate_id: int | None) -> int | None:
    if candidate_id is None:
        return None
    offers = list(
        db.session.scalars(select(Placement.offer_id).where(Placement.candidate_id == candidate_id).limit(2))
    )
    return offers[0] if len(offers) == 1 else None


def file_sent(message_id: int, user_id: int, parsed: ParsedMail, store: BlobStore, now: datetime) -> int:
    """Turn a stored (unclassified) message into the user's sent mail; its conversation id. Flushes.

    The caller refreshes the conversation's folder entries (entries.refresh), once for a batch.
    """
    db.session.flush()
    sent_at = parsed.date if parsed.date is not None and parsed.date <= now else now
    candidate_id = _candidate_of(parsed.to + parsed.cc)
    thread, _, _ = find_thread(parsed, [])
    attachments = attachment_rows(parsed, store)
    carries = None
    if candidate_id is None and (thread is None or thread.candidate_id is None):
        # A candidate's CV forwarded from the mail client stays in their scope, as from compose.
        candidate_id = candidate_of_files([a["sha256"] for a in attachments if not a["is_inline"]])
        carries = "cv" if candidate_id is not None else None
    if thread is not None:
        thread_id = thread.id
        candidate_id = candidate_id or thread.candidate_id
        db.session.execute(_TOUCH, {"thread_id": thread_id, "at": sent_at})
    else:
        inserted = execute_dml(
            insert(_threads),
            {
                "subject": parsed.subject[:998],
                "candidate_id": candidate_id,
                "offer_id": _single_offer(candidate_id),
                "last_message_at": sent_at,
                "created_at": now,
            },
        ).inserted_primary_key
        assert inserted is not None  # a one-row INSERT always has its key
        thread_id = inserted[0]
    values = parsed_fields(parsed) | {
        "direction": Direction.OUTBOUND,
        "status": Status.SENT,
        "sender_id": user_id,
        "candidate_id": candidate_id,
        "carries": carries,
        "thread_id": thread_id,
        "sent_at": sent_at,
        "sort_at": sent_at,
        "received_at": None,
        "envelope_to": [],
    }
    db.session.execute(update(_messages).where(_messages.c.id == message_id).values(**values))
    if attachments:
        db.session.execute(
            insert(table_of(Attachment)), [row | {"message_id": message_id} for row in attachments]
        )
    return thread_id
