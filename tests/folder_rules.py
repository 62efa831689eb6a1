"""The folders as the rules' SQL computes them (folders.qualifies): the reference the entries are held to.

What the app read before folder entries: every conversation with a qualifying message, its
newest qualifying message, whether a qualifying message is unread, and the count of messages
the user may see. Slow at scale, plain to read.
"""

from sqlalchemy import and_, case, exists, func, select

from webapp.extensions import db
from webapp.mail.read.access import visible
from webapp.mail.read.folders import Row, is_unread, qualifies
from webapp.models import Message, Status, Thread


def rows_by_the_rules(slug: str, user) -> set[tuple]:
    """(user, folder, thread, activity, message, unread, count, attachments) for each conversation."""
    cond = qualifies(slug, user)
    threads = list(
        db.session.scalars(
            select(Thread).where(exists(select(Message.id).where(Message.thread_id == Thread.id, cond)))
        )
    )
    return {
        (
            user.id,
            slug,
            r.thread.id,
            r.thread.last_message_at,
            r.message.id,
            r.is_unread,
            r.count,
            r.has_attachments,
        )
        for r in _rows_for(slug, user, threads)
    }


def _rows_for(slug: str, user, threads: list[Thread]) -> list[Row]:
    if not threads:
        return []
    ids = [t.id for t in threads]
    in_page = and_(Message.thread_id.in_(ids), qualifies(slug, user))
    base = select(Message).join(Thread, Thread.id == Message.thread_id)
    newest: dict[int | None, Message] = {}
    for msg in db.session.scalars(base.where(in_page).order_by(Message.sort_at, Message.id)).unique():
        newest[msg.thread_id] = msg
    unread = set(
        db.session.scalars(
            select(Message.thread_id)
            .join(Thread, Thread.id == Message.thread_id)
            .where(in_page, is_unread(user))
        )
    )
    stats = {
        tid: (count, bool(att))
        for tid, count, att in db.session.execute(
            select(
                Message.thread_id,
                # Drafts are not counted: the pane never shows them among the messages.
                func.sum(case((Message.status == Status.DRAFT, 0), else_=1)),
                func.max(Message.has_attachments.cast(db.Integer)),
            )
            .where(Message.thread_id.in_(ids), visible(user))
            .group_by(Message.thread_id)
        )
    }
    return [
        Row(
            thread=t,
            message=newest[t.id],
            is_unread=t.id in unread or slug == "drafts",  # the Drafts counter counts drafts
            has_attachments=stats.get(t.id, (0, False))[1],
            count=stats.get(t.id, (1, False))[0],
        )
        for t in threads
        if t.id in newest
    ]
