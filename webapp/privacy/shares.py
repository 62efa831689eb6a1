"""CV links for someone outside the team: made from the candidate page, opened without login.

The token (256 random bits) is shown once, in the link; only its SHA-256 is stored. A link
serves the candidate's chosen documents and, if asked, their profile and the messages its
creator may see; it ends at its expiry date or when revoked. Every opening is logged.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from webapp import audit
from webapp.extensions import db
from webapp.mail.read.access import visible
from webapp.models import Candidate, CandidateFile, CvShare, CvShareView, Message, Status, User
from webapp.models.types import utcnow

TOKEN_BYTES = 32
DEFAULT_DAYS = 14
MAX_DAYS = 365
SECTIONS = ("profile", "messages")
SHOWN_MESSAGES = 50


class ShareError(Exception):
    """A link that cannot be made as asked (the reason is shown as it is)."""


@dataclass
class Opened:
    """A link found by its token: the share, and whether it still opens (else: gone, 410)."""

    share: CvShare
    is_open: bool


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def documents(candidate_id: int) -> list[CandidateFile]:
    """The candidate's documents a link may serve (their CVs), oldest first."""
    query = select(CandidateFile).where(CandidateFile.candidate_id == candidate_id).order_by(CandidateFile.id)
    return list(db.session.scalars(query).unique())


def create(
    actor: User,
    candidate: Candidate,
    *,
    name: str = "",
    sections: list[str] | tuple[str, ...] = (),
    file_ids: list[int] | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[CvShare, str]:
    """Make a link (the caller checked that `actor` may see the candidate); (share, token). Flushes."""
    now = now or utcnow()
    expires_at = expires_at or now + timedelta(days=DEFAULT_DAYS)
    if expires_at <= now:
        raise ShareError(_l("Choose an expiry date in the future."))
    if expires_at > now + timedelta(days=MAX_DAYS):
        raise ShareError(_l("A link lasts at most %(days)d days.", days=MAX_DAYS))
    offered = {f.attachment_id for f in documents(candidate.id)}
    chosen = sorted(offered if file_ids is None else set(file_ids) & offered)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    share = CvShare(
        candidate_id=candidate.id,
        token_hash=token_hash(token),
        name=name.strip()[:120],
        sections=[s for s in SECTIONS if s in sections],
        file_ids=chosen,
        created_by_id=actor.id,
        created_at=now,
        expires_at=expires_at,
    )
    db.session.add(share)
    db.session.flush()
    audit.record(
        actor.id,
        "share_created",
        "candidate",
        candidate.id,
        share=share.id,
        sections=share.sections,
        expires=expires_at.isoformat(),
    )
    db.session.flush()
    return share, token


def revoke(actor: User, share: CvShare, now: datetime | None = None) -> bool:
    """End a link now; False if it already was. Flushes."""
    if share.revoked_at is not None:
        return False
    share.revoked_at = now or utcnow()
    audit.record(actor.id, "share_revoked", "candidate", share.candidate_id, share=share.id)
    db.session.flush()
    return True


def for_candidate(candidate_id: int) -> list[CvShare]:
    """The candidate's links, newest first, with their views (the candidate page's list)."""
    query = select(CvShare).where(CvShare.candidate_id == candidate_id).order_by(CvShare.id.desc())
    return list(db.session.scalars(query).unique())


def find(token: str, now: datetime | None = None) -> Opened | None:
    """The link of `token` (None: no such link, 404), and whether it still opens."""
    if not token or len(token) > 100:
        return None
    share = db.session.scalar(select(CvShare).where(CvShare.token_hash == token_hash(token)))
    if share is None:
        return None
    return Opened(share, share.is_open(now or utcnow()))


def log_view(share: CvShare, ip: str, what: str = "page") -> None:
    """Record one opening (the page or a document). Flushes."""
    db.session.add(CvShareView(share_id=share.id, ip=ip[:45], what=what[:20], viewed_at=utcnow()))
    db.session.flush()


def shared_messages(share: CvShare) -> list[Message]:
    """The messages a link with the "messages" section shows: with the candidate, delivered,
    not internal, and only those its creator may see (today, not when the link was made)."""
    creator = share.created_by
    if "messages" not in share.sections or creator is None or not creator.is_active:
        return []
    query = (
        select(Message)
        .where(
            Message.candidate_id == share.candidate_id,
            Message.status.in_((Status.SENT, Status.RECEIVED)),
            ~Message.is_internal,
            visible(creator),
        )
        .order_by(Message.sort_at.desc())
        .limit(SHOWN_MESSAGES)
    )
    return list(db.session.scalars(query).unique())


def shared_file(share: CvShare, attachment_id: int) -> CandidateFile | None:
    """A document the link serves, if it is still on the candidate's profile."""
    if attachment_id not in (share.file_ids or []):
        return None
    return db.session.scalar(
        select(CandidateFile).where(
            CandidateFile.candidate_id == share.candidate_id, CandidateFile.attachment_id == attachment_id
        )
    )
