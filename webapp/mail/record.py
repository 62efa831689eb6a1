"""Turn raw bytes into a stored Message: the blob first, then the rows."""

from datetime import datetime

from webapp.extensions import db
from webapp.mail.filing import attachment_rows, parsed_fields
from webapp.mail.parse import ParsedMail, parse
from webapp.mail.storage import BlobStore
from webapp.models import DELIVERED_STATUSES, Attachment, Message, MessageRecipient, Thread


def fill_from_parsed(msg: Message, parsed: ParsedMail, store: BlobStore) -> None:
    """Copy what the parser found onto the row and store the attachments' bytes."""
    for column, value in parsed_fields(parsed).items():
        setattr(msg, column, value)
    msg.attachments.extend(Attachment(**row) for row in attachment_rows(parsed, store))


def add_recipients(msg: Message, user_ids) -> None:
    """Record the team members the message was addressed to (the Inbox rule)."""
    for user_id in dict.fromkeys(user_ids):
        db.session.add(MessageRecipient(message_id=msg.id, user_id=user_id))


def record_message(
    raw: bytes,
    *,
    store: BlobStore,
    direction: str,
    status: str,
    at: datetime,
    thread: Thread | None = None,
    candidate_id: int | None = None,
    sender_id: int | None = None,
    recipient_user_ids: tuple[int, ...] | list[int] = (),
    is_cv: bool = False,
    cv_offer_id: int | None = None,
    is_internal: bool = False,
    is_auto_reply: bool = False,
    outcome: str | None = None,
    outcome_reason: str | None = None,
    parsed: ParsedMail | None = None,
) -> Message:
    """Store `raw` and its attachments in the blob store, then add the Message (flushed)."""
    parsed = parsed or parse(raw)
    msg = Message(
        thread=thread,
        direction=direction,
        status=status,
        raw_sha256=store.put(raw),
        raw_size=len(raw),
        candidate_id=candidate_id,
        sender_id=sender_id,
        is_cv=is_cv,
        cv_offer_id=cv_offer_id,
        is_internal=is_internal,
        is_auto_reply=is_auto_reply,
        outcome=outcome,
        outcome_reason=outcome_reason,
        created_at=at,
        sort_at=at,
    )
    fill_from_parsed(msg, parsed, store)
    if status == "received":
        msg.received_at = at
    elif status in ("sent", "failed"):
        msg.sent_at = at
    elif status == "scheduled":
        msg.scheduled_at = at
    db.session.add(msg)
    db.session.flush()
    add_recipients(msg, recipient_user_ids)
    if thread is not None and (status in DELIVERED_STATUSES or thread.last_message_at is None):
        thread.touch(at)
    db.session.flush()
    return msg
