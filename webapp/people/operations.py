"""People operations: turn mail into people (convert a non-candidate, add an address to a
candidate, turn an incoming CV into a candidate placed on its job, or discard it; each change
is audit-logged), and follow candidates and offers.
"""

import re
from dataclasses import dataclass

from sqlalchemy import String, cast, delete, exists, select, update

from webapp import audit
from webapp.extensions import db
from webapp.mail.read import entries
from webapp.models import (
    Candidate,
    CandidateEmail,
    CandidateFile,
    CandidateFollow,
    Direction,
    Message,
    OfferFollow,
    Placement,
    Thread,
    User,
)
from webapp.models.types import utcnow

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


class PeopleError(Exception):
    """A refusal to show the user (e.g. the address already belongs to someone)."""


def owner_of(address: str) -> Candidate | None:
    """The candidate an address belongs to, if any."""
    row = db.session.scalar(select(CandidateEmail).where(CandidateEmail.email == address.lower()))
    return row.candidate if row else None


def claim_mail_of(address: str, candidate: Candidate) -> int:
    """Give every non-candidate message with `address` to the candidate; returns how many moved."""
    address = address.lower()
    inbound = list(
        db.session.scalars(
            select(Message.id).where(
                Message.candidate_id.is_(None),
                Message.direction == Direction.INBOUND,
                Message.from_address == address,
                ~Message.is_internal,
                ~Message.is_cv,
                Message.cv_offer_id.is_(None),  # an offer's CV conversation keeps its offer
            )
        )
    )
    # Outbound recipients are a JSON list: narrow with a text match, then check exactly.
    maybe = db.session.execute(
        select(Message.id, Message.to_addresses, Message.cc_addresses).where(
            Message.candidate_id.is_(None),
            Message.direction == Direction.OUTBOUND,
            ~Message.is_internal,
            Message.cv_offer_id.is_(None),
            cast(Message.to_addresses, String).contains(address),
        )
    )
    outbound = [mid for mid, to, _cc in maybe if address in [a.lower() for a in to or []]]
    ids = inbound + outbound
    if ids:
        moved_threads = set(db.session.scalars(select(Message.thread_id).where(Message.id.in_(ids))))
        # Who took part keeps seeing it, whether or not they may see the candidate (access.py).
        db.session.execute(
            update(Message)
            .where(Message.id.in_(ids))
            .values(candidate_id=candidate.id, shown_to_participants=True)
        )
        db.session.execute(
            update(Thread)
            .where(
                Thread.id.in_(select(Message.thread_id).where(Message.id.in_(ids))),
                Thread.candidate_id.is_(None),
            )
            .values(candidate_id=candidate.id)
        )
        entries.refresh(moved_threads)
    db.session.flush()
    return len(ids)


def _new_candidate(first: str, last: str, address: str, offer_id: int | None) -> Candidate:
    if owner_of(address) is not None:
        raise PeopleError(f"{address} already belongs to a candidate")
    candidate = Candidate(first_name=first.strip()[:120], last_name=last.strip()[:120])
    candidate.emails = [CandidateEmail(email=address.lower())]
    if offer_id:
        candidate.placements = [Placement(offer_id=offer_id, stage="new")]
    db.session.add(candidate)
    db.session.flush()
    return candidate


def convert_to_candidate(user: User, address: str, first: str, last: str, offer_id: int | None) -> Candidate:
    """A new candidate from a non-candidate's address; all mail with that address moves to them."""
    candidate = _new_candidate(first, last, address, offer_id)
    moved = claim_mail_of(address, candidate)
    audit.record(
        user.id,
        "convert_to_candidate",
        "candidate",
        candidate.id,
        address=address.lower(),
        offer_id=offer_id,
        messages_moved=moved,
    )
    return candidate


def add_address(user: User, candidate: Candidate, address: str) -> int:
    """Add a non-candidate's address to an existing candidate; their mail moves with it."""
    owner = owner_of(address)
    if owner is not None and owner.id != candidate.id:
        raise PeopleError(f"{address} already belongs to another candidate")
    if owner is None:
        db.session.add(CandidateEmail(candidate_id=candidate.id, email=address.lower()))
        db.session.flush()
    moved = claim_mail_of(address, candidate)
    audit.record(
        user.id,
        "add_address_to_candidate",
        "candidate",
        candidate.id,
        address=address.lower(),
        messages_moved=moved,
    )
    return moved


@dataclass
class CvGuess:
    """Who a CV is about: the sender, or, for a forward or an agency, the person named in it."""

    first_name: str
    last_name: str
    email: str
    existing: Candidate | None


def _name_from_filename(filename: str) -> tuple[str, str] | None:
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", filename)
    stem = re.sub(r"(?i)[_\-\s]*(cv|resume|résumé|portfolio|curriculum(\s+vitae)?)[_\-\s]*", " ", stem)
    words = [w for w in re.split(r"[_\-\s]+", stem) if w.isalpha()]
    if len(words) >= 2:
        return words[0].capitalize(), " ".join(w.capitalize() for w in words[1:])
    return None


def guess_cv_person(msg: Message, team_addresses: set[str], domain: str) -> CvGuess:
    """Best guess of the person a CV mail is about, for the form to start from."""
    sender = msg.from_address.lower()
    forwarded = sender in team_addresses or msg.is_internal
    others = [
        a.lower()
        for a in _EMAIL.findall(msg.body_text or "")
        if a.lower() != sender and not a.lower().endswith("@" + domain)
    ]
    first, _, last = (msg.from_name or "").partition(" ")
    email = sender
    named = next(
        (_name_from_filename(a.filename) for a in msg.attachments if _name_from_filename(a.filename)), None
    )
    if forwarded or (others and named):
        email = others[0] if others else ""
        first, last = named or ("", "")
    existing = owner_of(email) if email else None
    return CvGuess(first, last, email, existing)


def create_from_cv(
    user: User,
    msg: Message,
    first: str,
    last: str,
    address: str,
    offer_id: int | None,
    existing: Candidate | None = None,
) -> Candidate:
    """Make (or reuse, when `existing`) the candidate, place them on the job, keep the CVs."""
    if existing is not None:
        candidate = existing
        if offer_id and not any(p.offer_id == offer_id for p in candidate.placements):
            db.session.add(Placement(candidate_id=candidate.id, offer_id=offer_id, stage="new"))
    else:
        candidate = _new_candidate(first, last, address, offer_id)
    for attachment in msg.attachments:
        if not attachment.is_inline:
            db.session.add(CandidateFile(candidate_id=candidate.id, attachment_id=attachment.id, kind="cv"))
    msg.cv_processed_at = utcnow()
    msg.candidate_id = candidate.id
    if msg.thread is not None and msg.thread.candidate_id is None:
        msg.thread.candidate_id = candidate.id
    if msg.thread_id is not None and msg.cv_offer_id is not None:
        # What was said about this CV (a forward, the agency's answers) is now about the candidate.
        db.session.execute(
            update(Message)
            .where(
                Message.thread_id == msg.thread_id,
                Message.candidate_id.is_(None),
                Message.cv_offer_id == msg.cv_offer_id,
                ~Message.is_internal,
            )
            .values(candidate_id=candidate.id)
        )
    db.session.flush()
    # A new placement can show the candidate's other conversations to more of the team.
    entries.refresh_candidates([candidate.id])  # this CV's conversation among them
    audit.record(
        user.id,
        "cv_to_candidate",
        "candidate",
        candidate.id,
        message_id=msg.id,
        offer_id=offer_id,
        merged=existing is not None,
    )
    return candidate


def discard_cv(user: User, msg: Message) -> None:
    """Take an incoming CV out of the folder without making a candidate (kept, audit-logged)."""
    msg.cv_processed_at = utcnow()
    db.session.flush()
    entries.refresh([msg.thread_id])
    audit.record(user.id, "cv_discarded", "message", msg.id, sender=msg.from_address)


def follow_candidate(user_id: int, candidate_id: int, on: bool) -> None:
    """Follow (on=True) or unfollow a candidate; doing it twice changes nothing."""
    _set_follow(CandidateFollow, user_id, "candidate_id", candidate_id, on)
    entries.refresh_candidates([candidate_id], user_ids=[user_id])


def follow_offer(user_id: int, offer_id: int, on: bool) -> None:
    """Follow (on=True) or unfollow a job or talent pool."""
    _set_follow(OfferFollow, user_id, "offer_id", offer_id, on)
    # Following a job moves its candidates' conversations in or out of Followed jobs.
    placed = db.session.scalars(select(Placement.candidate_id).where(Placement.offer_id == offer_id))
    entries.refresh_candidates(placed, user_ids=[user_id])


def following(user_id: int, candidate_id: int | None, offer_id: int | None) -> tuple[bool, bool]:
    """Whether the user follows this candidate, and this offer (None: no), in one statement."""
    row = db.session.execute(
        select(
            exists().where(CandidateFollow.user_id == user_id, CandidateFollow.candidate_id == candidate_id),
            exists().where(OfferFollow.user_id == user_id, OfferFollow.offer_id == offer_id),
        )
    ).one()
    return bool(row[0]), bool(row[1])


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
