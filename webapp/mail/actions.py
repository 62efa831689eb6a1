"""Team actions on conversations and people: archive, read state, follow."""

from sqlalchemy import delete, select

from webapp.extensions import db
from webapp.models import CandidateFollow, OfferFollow, Thread
from webapp.models.types import utcnow


def archive(thread: Thread, user_id: int) -> None:
    """Archive a conversation for the whole team (a new inbound message brings it back)."""
    thread.is_archived, thread.archived_at, thread.archived_by_id = True, utcnow(), user_id
    db.session.flush()


def unarchive(thread: Thread) -> None:
    """Bring an archived conversation back to the team's folders."""
    thread.is_archived, thread.archived_at, thread.archived_by_id = False, None, None
    db.session.flush()


def follow_candidate(user_id: int, candidate_id: int, on: bool) -> None:
    """Follow (on=True) or unfollow a candidate; doing it twice changes nothing."""
    _set_follow(CandidateFollow, user_id, "candidate_id", candidate_id, on)


def follow_offer(user_id: int, offer_id: int, on: bool) -> None:
    """Follow (on=True) or unfollow a job or talent pool."""
    _set_follow(OfferFollow, user_id, "offer_id", offer_id, on)


def is_following_candidate(user_id: int, candidate_id: int) -> bool:
    return db.session.get(CandidateFollow, (user_id, candidate_id)) is not None


def is_following_offer(user_id: int, offer_id: int) -> bool:
    return db.session.get(OfferFollow, (user_id, offer_id)) is not None


def _set_follow(model, user_id: int, column: str, target_id: int, on: bool) -> None:
    exists = db.session.scalar(
        select(model.user_id).where(model.user_id == user_id, getattr(model, column) == target_id)
    )
    if on and exists is None:
        db.session.add(model(user_id=user_id, **{column: target_id}))
    elif not on and exists is not None:
        db.session.execute(delete(model).where(model.user_id == user_id, getattr(model, column) == target_id))
    db.session.flush()
