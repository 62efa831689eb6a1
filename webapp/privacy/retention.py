"""Retention: mail kept no longer than the team decided. An admin sets a number of months; the
worker erases, once a day, the conversations whose last activity is older and that are with
nobody in the candidate database (non-candidate mail, incoming CVs never made candidates) or
with a rejected candidate (every placement at the stage "rejected"). Team-only conversations
stay. The admin page shows how many would go before the setting is saved.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, not_, or_, select

from webapp import audit
from webapp.extensions import db
from webapp.models import Message, Placement, Setting, Thread
from webapp.models.types import utcnow
from webapp.privacy import purge

SETTING = "retention"
REJECTED_STAGE = "rejected"
MAX_MONTHS = 240


@dataclass
class Due:
    """What retention would erase now: conversations and messages."""

    conversations: int
    messages: int


def months() -> int | None:
    """The retention period in months, or None (keep everything: the default)."""
    setting = db.session.get(Setting, SETTING)
    value = (setting.value or {}).get("months") if setting else None
    return value if isinstance(value, int) and value > 0 else None


def set_months(actor_id: int | None, value: int | None) -> None:
    """Save the retention period (None: off), audit-logged. Flushes."""
    setting = db.session.get(Setting, SETTING) or Setting(name=SETTING)
    before = (setting.value or {}).get("months")
    setting.value, setting.updated_at = {"months": value}, utcnow()
    db.session.add(setting)
    audit.record(actor_id, "retention_changed", "setting", None, before=before, months=value)
    db.session.flush()


def cutoff(period: int, now: datetime | None = None) -> datetime:
    """`period` calendar months before `now` (the 31st becomes the month's last day)."""
    now = now or utcnow()
    month = now.month - 1 - period
    year, month = now.year + month // 12, month % 12 + 1
    for day in range(now.day, 27, -1):
        try:
            return now.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    return now.replace(year=year, month=month, day=min(now.day, 28))


def _rejected(candidate_id_col):
    """Placed, and rejected on every offer."""
    return and_(
        exists().where(Placement.candidate_id == candidate_id_col),
        ~exists().where(Placement.candidate_id == candidate_id_col, Placement.stage != REJECTED_STAGE),
    )


def _outside_person(thread_id_col):
    """The conversation has a message from or to someone outside the team."""
    return exists().where(Message.thread_id == thread_id_col, not_(Message.is_internal))


def _with_known_candidate(thread_id_col):
    """A message of the conversation is with a candidate who is not rejected."""
    return exists().where(
        Message.thread_id == thread_id_col,
        Message.candidate_id.is_not(None),
        ~_rejected(Message.candidate_id),
    )


def due(before: datetime) -> tuple[list[int], list[int]]:
    """(message ids with no conversation, conversation ids) that retention erases at `before`."""
    threads = select(Thread.id).where(
        Thread.last_message_at < before,
        or_(
            and_(Thread.candidate_id.is_(None), _outside_person(Thread.id)),
            _rejected(Thread.candidate_id),
        ),
        ~_with_known_candidate(Thread.id),
    )
    loose = select(Message.id).where(
        Message.thread_id.is_(None),
        Message.sort_at < before,
        ~Message.is_internal,
        or_(Message.candidate_id.is_(None), _rejected(Message.candidate_id)),
    )
    return list(db.session.scalars(loose)), list(db.session.scalars(threads))


def count_due(period: int, now: datetime | None = None) -> Due:
    """The dry run: how many conversations and messages a period of `period` months erases now."""
    loose, threads = due(cutoff(period, now))
    in_threads = 0
    for start in range(0, len(threads), purge.BATCH):
        chunk = threads[start : start + purge.BATCH]
        in_threads += len(list(db.session.scalars(select(Message.id).where(Message.thread_id.in_(chunk)))))
    return Due(conversations=len(threads), messages=len(loose) + in_threads)


def apply(period: int, now: datetime | None = None) -> purge.Purged:
    """Erase what is due (in the caller's transaction), with one audit row. Flushes."""
    loose, threads = due(cutoff(period, now))
    done = purge.purge(loose, threads)
    if done.messages or done.conversations:
        audit.record(
            None,
            "retention_erased",
            "setting",
            None,
            months=period,
            messages=done.messages,
            conversations=done.conversations,
        )
        db.session.flush()
    return done
