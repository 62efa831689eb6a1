"""Turn raw bytes into a stored Message: the blob first, then the rows."""

from datetime import datetime

from webapp.extensions import db
from webapp.mail.parse import ParsedMail, parse
from webapp.mail.storage import BlobStore
from webapp.models import DELIVERED_STATUSES, Attachment, Message, MessageRecipient, Thread


def fill_from_parsed(msg: Message, parsed: ParsedMail, store: BlobStore) -> None:
    """Copy what the parser found onto the row and store the attachments' bytes."""
    msg.message_id = (parsed.message_id or "")[:998] or None
    msg.in_reply_to = parsed.in_reply_to
    msg.references = parsed.references
    msg.from_address = parsed.from_address[:254]
    msg.from_name = parsed.from_name[:200]
    msg.to_addresses = parsed.to
    msg.cc_addresses = parsed.cc
    msg.subject = parsed.subject
    msg.snippet = parsed.snippet
    msg.body_text = parsed.text
    msg.body_html = parsed.html
    msg.has_attachments = any(not a.is_inline for a in parsed.attachments)
    for part in parsed.attachments:
        msg.attachments.append(
            Attachment(
                filename=part.filename,
                content_type=part.content_type[:255],
                size=len(part.data),
                sha256=store.put(part.data, durable=False),  # the raw, kept durably, holds it too
                is_inline=part.is_inline,
                content_id=(part.content_id or "")[:255] or None,
            )
        )


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
