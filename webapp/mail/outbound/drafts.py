"""Drafts: what a user is writing, kept server-side as a `draft` message of theirs.

A draft is an outbound message with `Status.DRAFT`, seen by its author only (access.visible's
author-only statuses; the pane and search never show one). It lives in the conversation it
answers, or in a conversation of its own for a new email (that conversation has no other
message, so nobody else ever lists it). A user has at most one draft per conversation: opening
the reply composer again reopens it. Drafts are never sent: the drain takes queued and due
scheduled mail only, and sending a draft stores a new message and deletes the draft.
"""

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select

from webapp.extensions import db
from webapp.mail.outbound.build import OutgoingFile
from webapp.mail.quotes import fold_text
from webapp.mail.read import entries
from webapp.mail.read.access import visible
from webapp.mail.storage import BlobStore
from webapp.models import DELIVERED_STATUSES, Direction, Message, Status, Thread, User
from webapp.models.core import execute_dml
from webapp.models.types import utcnow


@dataclass
class DraftFields:
    """What the composer holds, as typed (addresses not checked yet: a draft may be unfinished)."""

    to: list[str]
    cc: list[str]
    bcc: list[str]
    subject: str
    body: str


def _mine(user_id: int):
    return (Message.sender_id == user_id, Message.status == Status.DRAFT)


def get(user_id: int, message_id: int) -> Message | None:
    """The user's own draft by id, or None (someone else's, or no longer a draft)."""
    return db.session.scalar(select(Message).where(Message.id == message_id, *_mine(user_id)))


def in_thread(user_id: int, thread_id: int, reply: bool = False) -> Message | None:
    """The user's draft in a conversation, if any (the newest, should there be more).

    `reply`: only a reply draft, not the kept edit of a scheduled message in the conversation.
    """
    query = select(Message).where(Message.thread_id == thread_id, *_mine(user_id))
    if reply:
        query = query.where(Message.revises_id.is_(None))
    return db.session.scalar(query.order_by(Message.id.desc()).limit(1))


def forwarding(user_id: int, message_id: int) -> Message | None:
    """The user's draft forwarding message `message_id`, if any: forwarding it again goes on with it."""
    return db.session.scalar(
        select(Message)
        .where(Message.forward_of_id == message_id, *_mine(user_id))
        .order_by(Message.id.desc())
        .limit(1)
    )


def revising(user_id: int, message_id: int) -> Message | None:
    """The user's kept edit of their scheduled message `message_id`, if any."""
    return db.session.scalar(
        select(Message)
        .where(Message.revises_id == message_id, *_mine(user_id))
        .order_by(Message.id.desc())
        .limit(1)
    )


def count(user_id: int) -> int:
    """How many drafts the user has."""
    return db.session.scalar(select(func.count()).select_from(Message).where(*_mine(user_id))) or 0


def answered(draft: Message) -> Message | None:
    """The message a reply draft answers (by its In-Reply-To, within its conversation)."""
    if not draft.in_reply_to or draft.thread_id is None:
        return None
    return db.session.scalar(
        select(Message)
        .where(
            Message.thread_id == draft.thread_id,
            Message.message_id == draft.in_reply_to,
            Message.status != Status.DRAFT,
        )
        .limit(1)
    )


def save(
    user: User,
    fields: DraftFields,
    draft: Message | None = None,
    reply_to: Message | None = None,
    from_address: str = "",
    forward_of: Message | None = None,
    revises: Message | None = None,
) -> Message:
    """Write the composer's content into the user's draft (a new one when `draft` is None). Flushes.

    A reply draft goes in the conversation it answers; a new email's, or a forward's, in a
    conversation of its own. The edit of a scheduled message (`revises`, the user's own) is kept
    beside it, in its conversation, until it is saved into it or the message leaves.
    """
    now = utcnow()
    if draft is None:
        draft = _existing(user.id, reply_to, forward_of, revises)
    if draft is None:
        if revises is not None:
            reply_to = None
            thread = db.session.get_one(Thread, revises.thread_id)
            candidate_id = revises.candidate_id
        elif reply_to is not None and reply_to.thread_id is not None:
            thread = db.session.get_one(Thread, reply_to.thread_id)
            candidate_id = thread.candidate_id
        else:
            thread = Thread(subject=fields.subject[:998], last_message_at=now)
            db.session.add(thread)
            candidate_id = None
        draft = Message(
            thread=thread,
            direction=Direction.OUTBOUND,
            status=Status.DRAFT,
            sender_id=user.id,
            from_address=from_address,
            from_name=user.name or "",
            candidate_id=candidate_id,
            in_reply_to=reply_to.message_id if reply_to is not None else None,
            source="compose",
            created_at=now,
            forward_of_id=forward_of.id if forward_of is not None else None,
        )
        if revises is not None:
            # Should the message leave before the edit is saved, the draft is a reply like it.
            draft.in_reply_to, draft.references = revises.in_reply_to, revises.references
            draft.revises_id = revises.id
        db.session.add(draft)
    if from_address:  # the From chosen last (own address, or a shared mailbox's)
        draft.from_address = from_address
    draft.to_addresses = fields.to
    draft.cc_addresses = fields.cc
    draft.bcc_addresses = fields.bcc
    draft.subject = fields.subject
    draft.body_text = fields.body
    draft.snippet = preview(fields.body)
    draft.sort_at = now
    db.session.flush()
    thread = db.session.get_one(Thread, draft.thread_id)
    if _only_drafts(thread.id):
        # A new email's own conversation: its activity is the draft's (nobody else lists it).
        thread.subject = fields.subject[:998]
        thread.last_message_at = now
    entries.refresh([thread.id], [user.id])
    return draft


def preview(body: str) -> str:
    """What a Drafts row shows of a draft: the words written, not the signature or the quote
    below them, with their line breaks (the row shows one line, the pane's draft box them all)."""
    lines = [" ".join(line.split()) for line in fold_text(body.replace("\r\n", "\n")).main.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()[:200]


def _existing(
    user_id: int, reply_to: Message | None, forward_of: Message | None, revises: Message | None
) -> Message | None:
    """The draft the user already has for this reply, forward or edit (one each)."""
    if revises is not None:
        return revising(user_id, revises.id)
    if forward_of is not None:
        return forwarding(user_id, forward_of.id)
    if reply_to is not None and reply_to.thread_id is not None:
        return in_thread(user_id, reply_to.thread_id, reply=True)
    return None


def _only_drafts(thread_id: int) -> bool:
    """Whether the conversation holds nothing but drafts (a new email not sent yet)."""
    others = select(Message.id).where(Message.thread_id == thread_id, Message.status != Status.DRAFT).limit(1)
    return db.session.scalar(others) is None


def attachments_of(draft: Message, store: BlobStore) -> list[OutgoingFile]:
    """The files a draft kept (an email brought back by Undo keeps what it attached)."""
    return [OutgoingFile(a.filename, a.content_type, store.get(a.sha256)) for a in draft.attachments]


def discard(user_id: int, message_id: int) -> int | None:
    """Delete the user's draft (and its conversation when nothing else is in it); returns the
    conversation's id when that conversation is still there, else None. Flushes."""
    draft = get(user_id, message_id)
    if draft is None:
        return None
    thread_id = draft.thread_id
    if thread_id is None:
        execute_dml(delete(Message).where(Message.id == draft.id))
        return None
    only = _only_drafts(thread_id) and (
        db.session.scalar(select(func.count()).select_from(Message).where(Message.thread_id == thread_id))
        == 1
    )
    entries.forget([thread_id])
    db.session.expunge(draft)
    execute_dml(delete(Message).where(Message.id == message_id, *_mine(user_id)))
    if only:
        execute_dml(delete(Thread).where(Thread.id == thread_id))
        return None
    entries.refresh([thread_id])
    return thread_id


def newest_seen(user: User, thread_id: int) -> int | None:
    """The newest mail of a conversation the user may see (what a composer opened on has seen)."""
    return db.session.scalar(
        select(func.max(Message.id)).where(
            Message.thread_id == thread_id, visible(user), Message.status.in_(DELIVERED_STATUSES)
        )
    )


def written_since(user: User, thread_id: int, seen_id: int) -> Message | None:
    """The newest mail someone else wrote in the conversation after message `seen_id` (the
    candidate's reply, a colleague's send), if the user may see it: a reply would cross it."""
    return db.session.scalar(
        select(Message)
        .where(
            Message.thread_id == thread_id,
            Message.id > seen_id,
            visible(user),
            Message.status.in_(DELIVERED_STATUSES),
            ~Message.is_auto_reply,
            or_(Message.direction == Direction.INBOUND, Message.sender_id != user.id),
        )
        .order_by(Message.id.desc())
        .limit(1)
    )
