"""Read-side helpers of the people pages: who and what the user may see."""

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import selectinload

from webapp.extensions import db
from webapp.mail.read.access import accessible_offers, visible, visible_candidates
from webapp.models import Candidate, CandidateEmail, Direction, Message, Offer, Status, User


def offer_choices(user: User) -> list[Offer]:
    """The offers the user may place a person on, by title (the forms' order)."""
    return list(db.session.scalars(accessible_offers(user).order_by(Offer.title)))


def visible_offer(user: User, offer_id: int) -> Offer | None:
    """The offer if the user has access to it."""
    return db.session.scalar(accessible_offers(user).where(Offer.id == offer_id))


def visible_candidate(user: User, candidate_id: int) -> Candidate | None:
    """The candidate if the user may see them (offer access, or took part in their mail)."""
    return db.session.scalar(visible_candidates(user).where(Candidate.id == candidate_id))


def search_candidates(user: User, text: str, limit: int = 10) -> list[Candidate]:
    """Candidates the user can see, placed or not, whose name or any address contains `text`.

    Every word typed must be found, in either name or an address, whatever the order
    ("able alice" finds Alice Able); a candidate with no address yet is found by name.
    """
    words = text.strip().lower().split()
    if len(text.strip()) < 2:
        return []
    name = func.lower(Candidate.first_name + " " + Candidate.last_name)
    conditions = [
        or_(
            name.like(f"%{word}%"),
            exists().where(
                CandidateEmail.candidate_id == Candidate.id, CandidateEmail.email.like(f"%{word}%")
            ),
        )
        for word in words
    ]
    query = (
        visible_candidates(user)
        .where(*conditions)
        .order_by(Candidate.last_name, Candidate.first_name, Candidate.id)
        .limit(limit)
    )
    return list(db.session.scalars(query))


def counterpart(messages: list[Message]) -> tuple[str, str]:
    """(address, display name) of the outside person in a non-candidate conversation."""
    for msg in reversed(messages):
        if msg.is_internal or msg.is_auto_reply:
            continue
        if msg.direction == Direction.INBOUND:
            return msg.from_address, msg.from_name
        if msg.to_addresses:
            return msg.to_addresses[0], ""
    return "", ""


def timeline(user: User, candidate_ids: list[int], limit: int = 200) -> list[Message]:
    """Every message with these candidates that the user may see, newest first, across threads."""
    if not candidate_ids:
        return []
    return list(
        db.session.scalars(
            select(Message)
            .where(
                Message.candidate_id.in_(candidate_ids),
                visible(user),
                Message.status.not_in((Status.DRAFT, Status.CANCELLED)),
            )
            .order_by(Message.sort_at.desc(), Message.id.desc())
            .limit(limit)
            .options(selectinload(Message.thread))  # each row names its conversation's offer
        ).unique()
    )
