"""Who may see what: offers, candidates and messages. The one place these rules are written.

"U can see candidate C" means U is an admin, or C is placed on an offer U has access to; a
candidate with no placement is seen by admins and by the users who wrote or received mail in
that conversation (docs/folders.md, "Folder rules"). Mail that a conversion moved to a
candidate, or that answered a conversation with no candidate (`shown_to_participants`), stays
visible to the people who took part in it (wrote it, or it was addressed to them), whoever may
see the candidate: a conversion changes who the person is, never who may see mail already seen.
Mail that carries an offer's CV without a candidate yet (`cv_offer_id` on a message that is
not itself the incoming CV: a forward, a reply in the CV's conversation) is seen by that
offer's team only.
"""

from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Select, and_, exists, false, or_, select, true
from sqlalchemy.orm import aliased

from webapp.extensions import db
from webapp.models import (
    AUTHOR_ONLY_STATUSES,
    DELIVERED_STATUSES,
    Candidate,
    Message,
    MessageRecipient,
    Offer,
    OfferAccess,
    Placement,
    Status,
    Thread,
    User,
)


def has_offer_access(user, offer_id_col):
    """True when `user` is on the hiring team of the offer in `offer_id_col` (or is an admin)."""
    if user.is_admin:
        return true()
    return exists().where(OfferAccess.user_id == user.id, OfferAccess.offer_id == offer_id_col)


def accessible_offer_ids(user: User) -> set[int] | None:
    """The ids of the offers `user` has access to; None for an admin (every offer)."""
    if user.is_admin:
        return None
    return set(db.session.scalars(select(OfferAccess.offer_id).where(OfferAccess.user_id == user.id)))


def accessible_offers(user: User) -> Select:
    """The offers `user` has access to (admins: all), as a query each page narrows and orders."""
    query = select(Offer)
    return query if user.is_admin else query.where(has_offer_access(user, Offer.id))


def is_participant(user, message=Message):
    """The user wrote the message or it was addressed to them."""
    return or_(
        message.sender_id == user.id,
        exists().where(MessageRecipient.message_id == message.id, MessageRecipient.user_id == user.id),
    )


def kept_by_participant(user):
    """The message stays visible to those who took part in it, and the user did (docs/folders.md)."""
    return and_(Message.shown_to_participants, is_participant(user))


# The aliases the rules read other rows through, made once: an alias copies every column of its
# table (about 240 KB for messages), and the rules use one in sibling subqueries only, where a
# name is scoped to its own subquery (never a subquery inside another over the same alias).
_OTHER_MESSAGE = aliased(Message)
_SAME_THREAD = aliased(Thread)


def took_part_in_thread(user, thread_id_col):
    """The user wrote or received at least one message of the conversation."""
    other = _OTHER_MESSAGE
    return exists(select(other.id).where(other.thread_id == thread_id_col, is_participant(user, other)))


def _on_accessible_offer(user, candidate_id_col):
    return exists(
        select(Placement.id)
        .join(OfferAccess, OfferAccess.offer_id == Placement.offer_id)
        .where(Placement.candidate_id == candidate_id_col, OfferAccess.user_id == user.id)
    )


def _unplaced(candidate_id_col):
    return ~exists().where(Placement.candidate_id == candidate_id_col)


def candidate_visible(user, candidate_id_col, thread_id_col):
    """The condition "user can see this candidate in this conversation" (the module's rule)."""
    if user.is_admin:
        return true()
    return or_(
        _on_accessible_offer(user, candidate_id_col),
        and_(_unplaced(candidate_id_col), took_part_in_thread(user, thread_id_col)),
    )


def visible_candidates(user: User) -> Select:
    """The candidates `user` can see, as a query each page narrows and orders.

    The module's rule, where an unplaced candidate's "conversation" is any of theirs.
    """
    query = select(Candidate)
    if user.is_admin:
        return query
    in_my_conversation = exists(
        select(Message.id).where(
            Message.candidate_id == Candidate.id, took_part_in_thread(user, Message.thread_id)
        )
    )
    # A candidate made from a CV without placing them: those who may see the CV see them.
    from_my_cv = exists(
        select(Message.id).where(
            Message.candidate_id == Candidate.id,
            Message.is_cv,
            Message.cv_offer_id.is_not(None),
            has_offer_access(user, Message.cv_offer_id),
        )
    )
    return query.where(
        or_(
            _on_accessible_offer(user, Candidate.id),
            and_(_unplaced(Candidate.id), or_(in_my_conversation, from_my_cv)),
        )
    )


class Viewer(NamedTuple):
    """All the rules ask of a user: who they are and whether they are an admin."""

    id: int
    is_admin: bool


def visible(user):
    """The condition "user may see this message", whatever folder it is in.

    Built once per user and role and kept: it is a tree of some hundred clauses with aliased
    tables, and building it cost a conversation pane more than reading the conversation.
    """
    return _visible(Viewer(user.id, user.is_admin))


@lru_cache(maxsize=256)  # about 40 KB each; 256 users of one process
def _visible(user: Viewer):
    thread = _SAME_THREAD
    with_candidate = and_(
        Message.candidate_id.is_not(None),
        or_(candidate_visible(user, Message.candidate_id, Message.thread_id), kept_by_participant(user)),
    )
    # Internal mail is private to its people, unless it joined a conversation with a
    # candidate the user can see.
    internal_in_visible_thread = exists(
        select(thread.id).where(
            thread.id == Message.thread_id,
            thread.candidate_id.is_not(None),
            candidate_visible(user, thread.candidate_id, thread.id),
        )
    )
    cv = or_(
        and_(Message.cv_offer_id.is_not(None), has_offer_access(user, Message.cv_offer_id)),
        and_(Message.cv_offer_id.is_(None), true() if user.is_admin else false()),
    )
    # Mail that carries an offer's CV (no candidate yet) stays with that offer's team.
    offer_scoped = or_(Message.cv_offer_id.is_(None), has_offer_access(user, Message.cv_offer_id))
    delivered = and_(
        Message.status.in_(DELIVERED_STATUSES),
        or_(
            and_(Message.is_cv, cv),
            and_(~Message.is_cv, Message.is_internal, or_(is_participant(user), internal_in_visible_thread)),
            and_(~Message.is_cv, ~Message.is_internal, Message.candidate_id.is_(None), offer_scoped),
            and_(~Message.is_cv, ~Message.is_internal, with_candidate),
        ),
    )
    own_pending = and_(
        Message.status.in_(AUTHOR_ONLY_STATUSES),
        Message.sender_id == user.id,
        or_(Message.candidate_id.is_(None), with_candidate),
    )
    quarantined = and_(Message.status == Status.QUARANTINED, true() if user.is_admin else false())
    return or_(delivered, own_pending, quarantined)
