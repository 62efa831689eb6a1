"""What an operator changes about the team: offer access, deactivation, passwords. Each is audit-logged.

Shared by the admin pages and `flask admin`. They take the acting admin's id (None from the
command line) and flush; the caller commits.
"""

import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from webapp import audit
from webapp.extensions import db
from webapp.mail.read import entries
from webapp.models import Offer, OfferAccess, User

# Long enough to be safe, short enough to read out to a colleague over the phone.
GENERATED_PASSWORD_BYTES = 12
MIN_PASSWORD_LENGTH = 8


class AdminError(Exception):
    """A change refused, with the reason to show."""


@dataclass
class OfferTeam:
    """An offer and the users who may access it, by name."""

    offer: Offer
    users: list[User]


def find_user(email: str) -> User:
    """The user with this login email (any case), or AdminError."""
    user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
    if user is None:
        raise AdminError(f"no user with email {email}")
    return user


def find_offer(slug: str) -> Offer:
    """The offer with this slug, or AdminError."""
    offer = db.session.scalar(select(Offer).where(Offer.slug == slug.strip().lower()))
    if offer is None:
        raise AdminError(f"no offer {slug}")
    return offer


def offer_teams() -> list[OfferTeam]:
    """Every offer, open ones first then by title, with who may access it."""
    query = (
        select(Offer).order_by(Offer.is_open.desc(), Offer.title, Offer.id).options(selectinload(Offer.team))
    )
    offers = db.session.scalars(query).all()
    return [OfferTeam(offer, sorted(offer.team, key=lambda user: user.name.lower())) for offer in offers]


def grant_access(actor_id: int | None, user: User, offer: Offer) -> bool:
    """Put `user` on the offer's hiring team; False if they already were."""
    if db.session.get(OfferAccess, (user.id, offer.id)) is not None:
        return False
    db.session.add(OfferAccess(user_id=user.id, offer_id=offer.id))
    audit.record(actor_id, "grant_offer_access", "user", user.id, offer=offer.slug)
    db.session.flush()
    db.session.expire(offer, ["team"])
    entries.refresh_offer(offer.id, user_ids=[user.id])  # the offer's candidates and CVs appear
    return True


def revoke_access(actor_id: int | None, user: User, offer: Offer) -> bool:
    """Take `user` off the offer's hiring team; False if they were not on it."""
    access = db.session.get(OfferAccess, (user.id, offer.id))
    if access is None:
        return False
    db.session.delete(access)
    audit.record(actor_id, "revoke_offer_access", "user", user.id, offer=offer.slug)
    db.session.flush()
    db.session.expire(offer, ["team"])
    entries.refresh_offer(offer.id, user_ids=[user.id])  # ... and leave the user's folders
    return True


def set_active(actor_id: int | None, user: User, active: bool) -> bool:
    """Deactivate (signed out at once, cannot sign in) or reactivate a user; False if no change."""
    if actor_id is not None and actor_id == user.id and not active:
        raise AdminError("you cannot deactivate yourself")
    if user.is_active_user == active:
        return False
    user.is_active_user = active
    audit.record(actor_id, "reactivate_user" if active else "deactivate_user", "user", user.id)
    db.session.flush()
    return True


def reset_password(actor_id: int | None, user: User, password: str | None = None) -> str:
    """Set the user's password to `password`, or to a generated one; returns it (to show once)."""
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AdminError(f"use at least {MIN_PASSWORD_LENGTH} characters")
    new = password if password is not None else secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
    user.set_password(new)
    audit.record(actor_id, "reset_password", "user", user.id, generated=password is None)
    db.session.flush()
    return new
