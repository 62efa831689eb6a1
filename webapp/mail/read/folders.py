"""The ten folders: each one a query of the conversations a user may see there.

A conversation is in a folder when at least one of its messages qualifies; it is unread for a
user when a qualifying message in it is unread for them. See docs/folders.md, "Folder rules".
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import and_, bindparam, exists, func, or_, select
from sqlalchemy.orm import aliased, defaultload

from webapp.extensions import db
from webapp.mail.phrases import N_, Phrase
from webapp.mail.read.access import Viewer, candidate_visible, has_offer_access, kept_by_participant, visible
from webapp.mail.read.search import Match
from webapp.models import (
    DELIVERED_STATUSES,
    SEARCH_EVERYWHERE,
    SENT_FOLDER_STATUSES,
    Candidate,
    CandidateFollow,
    Direction,
    FolderCount,
    FolderEntry,
    Message,
    MessageRead,
    MessageRecipient,
    Offer,
    OfferFollow,
    Placement,
    Status,
    Thread,
)


@dataclass(frozen=True)
class Folder:
    slug: str
    label: Phrase  # translated where it is shown
    group: str
    counts_unread: bool


FOLDERS = (
    Folder("inbox", N_("Inbox"), "my", True),
    Folder("sent", N_("Sent"), "my", False),
    Folder("scheduled", N_("Send later"), "my", False),
    # Counted: its counter counts drafts, not unread mail (entries.py marks every draft entry).
    Folder("drafts", N_("Drafts"), "my", True),
    Folder("candidates", N_("All candidates"), "team", True),
    Folder("followed-candidates", N_("Followed candidates"), "team", True),
    Folder("followed-jobs", N_("Followed jobs"), "team", True),
    Folder("non-candidates", N_("Non-candidates"), "team", True),
    Folder("archived", N_("Archived"), "team", False),
    Folder("incoming-cv", N_("Incoming CV"), "cv", True),
)
FOLDERS_BY_SLUG = {f.slug: f for f in FOLDERS}
GROUPS = (("my", N_("My email")), ("team", N_("Team email")), ("cv", N_("Incoming CV")))


def _mail():
    """Mail that has really travelled, not auto-replies (those are notes, never a reason)."""
    return and_(Message.status.in_(DELIVERED_STATUSES), ~Message.is_auto_reply)


def _with_candidate(user):
    return and_(
        _mail(),
        Message.candidate_id.is_not(None),
        ~Message.is_internal,
        ~Message.is_cv,
        candidate_visible(user, Message.candidate_id, Message.thread_id),
    )


def qualifies(slug: str, user):
    """The SQL condition for a message of the (joined) Thread to put it in folder `slug`.

    Slug "all" means any message the user may see, archived or not (searching everywhere).
    The folder entries are held to these rules by tests/test_folder_entries.py.
    """
    if slug == SEARCH_EVERYWHERE:
        return and_(
            Message.status.not_in((Status.DRAFT, Status.CANCELLED)), ~Message.is_auto_reply, visible(user)
        )
    live = ~Thread.is_archived
    if slug == "inbox":
        addressed = exists().where(
            MessageRecipient.message_id == Message.id, MessageRecipient.user_id == user.id
        )
        return and_(_with_candidate(user), Message.direction == Direction.INBOUND, addressed, live)
    if slug == "sent":
        return and_(
            Message.direction == Direction.OUTBOUND,
            Message.sender_id == user.id,
            Message.status.in_(SENT_FOLDER_STATUSES),
            visible(user),
        )
    if slug == "scheduled":
        return and_(
            Message.direction == Direction.OUTBOUND,
            Message.sender_id == user.id,
            Message.status == Status.SCHEDULED,
            visible(user),
        )
    if slug == "drafts":
        return and_(
            Message.direction == Direction.OUTBOUND,
            Message.sender_id == user.id,
            Message.status == Status.DRAFT,
            visible(user),
        )
    if slug == "candidates":
        return and_(_with_candidate(user), live)
    if slug == "followed-candidates":
        followed = exists().where(
            CandidateFollow.user_id == user.id, CandidateFollow.candidate_id == Message.candidate_id
        )
        return and_(_with_candidate(user), followed, live)
    if slug == "followed-jobs":
        on_followed_offer = exists(
            select(Placement.id)
            .join(OfferFollow, OfferFollow.offer_id == Placement.offer_id)
            .where(
                Placement.candidate_id == Message.candidate_id,
                OfferFollow.user_id == user.id,
                has_offer_access(user, Placement.offer_id),
            )
        )
        return and_(_with_candidate(user), on_followed_offer, live)
    if slug == "non-candidates":
        # Mail of theirs with a candidate they may not see stays where it was for the people who
        # took part (a conversion by someone else moves nothing out of their sight).
        theirs_with_hidden = and_(
            Message.candidate_id.is_not(None),
            kept_by_participant(user),
            ~candidate_visible(user, Message.candidate_id, Message.thread_id),
        )
        return and_(
            _mail(),
            or_(Message.candidate_id.is_(None), theirs_with_hidden),
            ~Message.is_internal,
            ~Message.is_cv,
            Message.cv_offer_id.is_(None),
            live,
        )
    if slug == "archived":
        return and_(Thread.is_archived, _mail(), ~Message.is_cv, visible(user))
    if slug == "incoming-cv":
        return and_(
            Message.direction == Direction.INBOUND,
            Message.is_cv,
            Message.cv_processed_at.is_(None),
            Message.status == Status.RECEIVED,
            visible(user),
        )
    raise KeyError(slug)


def is_unread(user):
    """The message is inbound mail the user has not read (auto-replies never count)."""
    return and_(
        Message.direction == Direction.INBOUND,
        Message.status == Status.RECEIVED,
        ~Message.is_auto_reply,
        ~exists().where(MessageRead.message_id == Message.id, MessageRead.user_id == user.id),
    )


class Named(NamedTuple):
    """A candidate as a list row names them."""

    full_name: str


class Titled(NamedTuple):
    """An offer as a list row names it."""

    title: str


class ListedThread(NamedTuple):
    """The columns of a conversation a list row shows (a plain tuple: no ORM object per row)."""

    id: int
    subject: str
    last_message_at: datetime
    candidate_id: int | None
    offer_id: int | None
    candidate: Named | None
    offer: Titled | None


class ListedMessage(NamedTuple):
    """The columns of a conversation's newest qualifying message a list row shows: never a body."""

    id: int
    thread_id: int
    direction: str
    status: str
    subject: str
    snippet: str
    from_name: str
    from_address: str
    to_addresses: list
    candidate_id: int | None
    candidate: Named | None
    cv_offer_id: int | None
    cv_offer: Titled | None
    held_at: datetime | None
    scheduled_at: datetime | None
    is_internal: bool
    # How it came (a mailbox sync) and to whom: a shared mailbox's row names the mailbox.
    source: str | None
    envelope_to: list
    # A draft's row: when it was saved, and the scheduled message it edits (if any).
    sort_at: datetime
    revises_id: int | None

    @property
    def is_outbound(self) -> bool:
        return self.direction == Direction.OUTBOUND

    @property
    def is_scheduled(self) -> bool:
        return self.status == Status.SCHEDULED

    @property
    def is_failed(self) -> bool:
        return self.status == Status.FAILED

    @property
    def is_draft(self) -> bool:
        return self.status == Status.DRAFT

    @property
    def display_from(self) -> str:
        return self.from_name or self.from_address


@dataclass
class Row:
    """One conversation as a folder lists it.

    `thread` and `message` are ORM objects (a pane's row, the tests' reference rows) or, for a
    list, the ListedThread and ListedMessage tuples with the same attributes.
    """

    thread: Thread | ListedThread
    message: Message | ListedMessage  # the newest qualifying message: who, what, snippet
    is_unread: bool
    has_attachments: bool
    count: int

    @property
    def cursor(self) -> str:
        return encode_cursor(self.thread.last_message_at, self.thread.id)


def encode_cursor(at: datetime, thread_id: int) -> str:
    return f"{int(at.timestamp() * 1_000_000)}-{thread_id}"


def decode_cursor(value: str | None) -> tuple[datetime, int] | None:
    """The (activity time, thread id) a page starts after, or None for a bad/missing cursor."""
    if not value:
        return None
    try:
        micros, thread_id = value.split("-", 1)
        return datetime.fromtimestamp(int(micros) / 1_000_000, UTC), int(thread_id)
    except (ValueError, OverflowError, OSError):
        return None


def list_rows(
    slug: str, user, before: tuple[datetime, int] | None = None, limit: int = 50, match: Match | None = None
):
    """One page of the folder, newest activity first; returns (rows, has_more).

    A page is a range read of the user's folder entries (webapp/mail/read/entries.py). A
    search (`match`, from search.matching; slug "all" for everywhere) keeps the entries whose
    conversation has a matching message the user may see.
    """
    query = _entries(slug, user)
    if match is None:
        entries = list(db.session.execute(_page(query, before).limit(limit + 1)))
    else:
        entries = _matching_entries(query, user, match, before, limit + 1)
    return _shown(slug, _rows_of(entries[:limit])), len(entries) > limit


def _shown(slug: str, rows: list[Row]) -> list[Row]:
    """The rows as the folder shows them: a draft is counted (entries.py) but never "unread"."""
    if slug == "drafts":
        for row in rows:
            row.is_unread = False
    return rows


def _matching_entries(query, user, match: Match, before, wanted: int) -> list:
    """The first `wanted` entries of `query` after `before` with a message matching that the user may see.

    A word in few messages: their conversations, from the index, narrow the folder to a short
    list read in order, and each page of it is checked in one statement. A common word: the
    folder's conversations are asked in order, one by one, and a page is soon found.
    """
    seen = qualifies(SEARCH_EVERYWHERE, user)
    few = _few_messages(wanted)
    matched: list[int | None] | None = None
    if not match.more_than(few):
        # Messages, not conversations: the index stops at the limit without sorting anything.
        # A limit, too, in case the estimate was far off: then the word is common after all.
        matched = list(db.session.scalars(select(Message.thread_id).where(match.indexed).limit(4 * few + 1)))
    if matched is None or len(matched) > 4 * few:
        # OFFSET 0 keeps the test a subquery asked of each conversation in turn (through the
        # messages' thread index): PostgreSQL would otherwise make it a semi-join and, at a
        # million messages, read every matching message the user may see first (9 s).
        has_match = exists(
            select(Message.id).where(Message.thread_id == FolderEntry.thread_id, match.each, seen).offset(0)
        )
        return list(db.session.execute(_page(query.where(has_match), before).limit(wanted)))
    candidates = query.where(FolderEntry.thread_id.in_(sorted(set(matched))))
    kept: list = []
    while len(kept) < wanted:
        batch = list(db.session.execute(_page(candidates, before).limit(wanted)))
        if not batch:
            break
        ids = [e.thread_id for e in batch]
        found = set(
            db.session.scalars(select(Message.thread_id).where(Message.thread_id.in_(ids), match.each, seen))
        )
        kept += [e for e in batch if e.thread_id in found]
        before = (batch[-1].activity_at, batch[-1].thread_id)
    return kept[:wanted]


def _few_messages(wanted: int) -> int:
    """Up to how many matching messages a search starts from the index rather than the folder.

    Both ways read about as many messages: starting from the index, every matching one (m);
    asking the folder's conversations in order until `wanted` match, about wanted * n / m of
    the n messages. They cost the same at m = sqrt(wanted * n).
    """
    newest = db.session.scalar(select(func.max(Message.id))) or 0
    return max(100, int(math.sqrt(wanted * newest)))


def _page(query, before: tuple[datetime, int] | None):
    """Newest activity first, after the `before` cursor (a keyset: the index's own order)."""
    if before:
        at, thread_id = before
        query = query.where(
            or_(
                FolderEntry.activity_at < at,
                and_(FolderEntry.activity_at == at, FolderEntry.thread_id < thread_id),
            )
        )
    return query.order_by(FolderEntry.activity_at.desc(), FolderEntry.thread_id.desc())


def get_row(slug: str, user, thread_id: int, loaded: Sequence[Message] = ()) -> Row | None:
    """The folder's row for one conversation, or None when it is not in that folder.

    `loaded`: the conversation's messages when the caller has them (the pane), so the row's
    message is not read again.
    """
    entry = db.session.execute(_entries(slug, user).where(FolderEntry.thread_id == thread_id)).first()
    if entry is None:
        return None
    message = next((m for m in loaded if m.id == entry.message_id), None)
    if message is None:
        return _shown(slug, _rows_of([entry]))[0]
    thread = db.session.get_one(Thread, thread_id)  # the pane's, already in the session
    return _shown(slug, [Row(thread, message, entry.is_unread, entry.has_attachments, entry.message_count)])[
        0
    ]


_COUNTING = tuple(f.slug for f in FOLDERS if f.counts_unread)


def unread_counts(user) -> dict[str, int]:
    """Unread conversations per folder, for the folders that show a count: the user's counters."""
    query = select(FolderCount.folder, FolderCount.unread).where(FolderCount.user_id == user.id)
    found = dict(db.session.execute(query).tuples().all())
    return {slug: found.get(slug, 0) for slug in _COUNTING}


def _entries(slug: str, user):
    if slug not in FOLDERS_BY_SLUG and slug != SEARCH_EVERYWHERE:
        raise KeyError(slug)
    return select(*_ENTRY_COLUMNS).where(FolderEntry.user_id == user.id, FolderEntry.folder == slug)


# What a page reads of an entry (column tuples: building an entity per row costs more than the read).
_ENTRY_COLUMNS = (
    FolderEntry.thread_id,
    FolderEntry.activity_at,
    FolderEntry.message_id,
    FolderEntry.is_unread,
    FolderEntry.has_attachments,
    FolderEntry.message_count,
)


# Rows and panes name a conversation's candidate; their addresses and placements (which other
# pages load with them) are not read here.
_NAME_ONLY = (
    defaultload(Thread.candidate).lazyload(Candidate.emails),
    defaultload(Thread.candidate).lazyload(Candidate.placements),
)
_MESSAGE_NAME_ONLY = (
    defaultload(Message.candidate).lazyload(Candidate.emails),
    defaultload(Message.candidate).lazyload(Candidate.placements),
)


def _rows_of(entries: list) -> list[Row]:
    """The rows of these entries: their conversations and messages, as column tuples, in one statement."""
    if not entries:
        return []
    listed = {}
    ids = {"message_ids": [e.message_id for e in entries], "thread_ids": [e.thread_id for e in entries]}
    # Unpacked by position: a result row's attributes are looked up by name, 36 times a row.
    for (
        message_id,
        thread_id,
        direction,
        status,
        subject,
        snippet,
        from_name,
        from_address,
        to_addresses,
        candidate_id,
        mc_first,
        mc_last,
        cv_offer_id,
        cv_offer_title,
        held_at,
        scheduled_at,
        is_internal,
        source,
        envelope_to,
        sort_at,
        revises_id,
        thread_subject,
        last_message_at,
        thread_candidate_id,
        offer_id,
        tc_first,
        tc_last,
        offer_title,
    ) in db.session.execute(_LISTED, ids).tuples():
        thread = ListedThread(
            thread_id,
            thread_subject,
            last_message_at,
            thread_candidate_id,
            offer_id,
            Named(f"{tc_first} {tc_last}".strip()) if thread_candidate_id is not None else None,
            Titled(offer_title) if offer_title is not None else None,
        )
        message = ListedMessage(
            message_id,
            thread_id,
            direction,
            status,
            subject,
            snippet,
            from_name,
            from_address,
            to_addresses,
            candidate_id,
            Named(f"{mc_first} {mc_last}".strip()) if mc_first is not None else None,
            cv_offer_id,
            Titled(cv_offer_title) if cv_offer_title is not None else None,
            held_at,
            scheduled_at,
            is_internal,
            source,
            envelope_to,
            sort_at,
            revises_id,
        )
        listed[message_id] = (thread, message)
    return [Row(*listed[e.message_id], e.is_unread, e.has_attachments, e.message_count) for e in entries]


def _listed():
    thread_candidate, message_candidate = aliased(Candidate), aliased(Candidate)
    offer, cv_offer = aliased(Offer), aliased(Offer)
    return (
        select(
            Message.id,
            Message.thread_id,
            Message.direction,
            Message.status,
            Message.subject,
            Message.snippet,
            Message.from_name,
            Message.from_address,
            Message.to_addresses,
            Message.candidate_id,
            message_candidate.first_name.label("mc_first"),
            message_candidate.last_name.label("mc_last"),
            Message.cv_offer_id,
            cv_offer.title.label("cv_offer_title"),
            Message.held_at,
            Message.scheduled_at,
            Message.is_internal,
            Message.source,
            Message.envelope_to,
            Message.sort_at,
            Message.revises_id,
            Thread.subject.label("thread_subject"),
            Thread.last_message_at,
            Thread.candidate_id.label("thread_candidate_id"),
            Thread.offer_id,
            thread_candidate.first_name.label("tc_first"),
            thread_candidate.last_name.label("tc_last"),
            offer.title.label("offer_title"),
        )
        .select_from(Message)
        .join(Thread, Thread.id == Message.thread_id)
        .outerjoin(thread_candidate, thread_candidate.id == Thread.candidate_id)
        .outerjoin(offer, offer.id == Thread.offer_id)
        .outerjoin(message_candidate, message_candidate.id == Message.candidate_id)
        .outerjoin(cv_offer, cv_offer.id == Message.cv_offer_id)
    )


# What a list row shows of its conversation and message, joined: one statement for a page.
# Both id lists, so that each table is read by its key whatever the planner thinks of its size
# (on a small one PostgreSQL would rather hash all of threads). One statement for the process:
# SQLAlchemy keeps its cache key, where a statement built per page is walked anew each time.
_LISTED = _listed().where(
    Message.id.in_(bindparam("message_ids", expanding=True)),
    Thread.id.in_(bindparam("thread_ids", expanding=True)),
)


def thread_for(user, thread_id: int) -> tuple[Thread, list[Message]] | None:
    """A conversation and the messages of it the user may see, or None (a 404)."""
    found = thread_and_draft(user, thread_id)
    return None if found is None else found[:2]


def thread_and_draft(user, thread_id: int) -> tuple[Thread, list[Message], Message | None] | None:
    """A conversation, the messages of it the user may see and the user's own draft in it (read
    with them: no other user ever gets it), or None (a 404) when no message is shown."""
    thread = db.session.scalar(select(Thread).where(Thread.id == thread_id).options(*_NAME_ONLY))
    if thread is None:
        return None
    statement = _conversation_statement(Viewer(user.id, user.is_admin))
    found = list(db.session.scalars(statement, {"pane_thread_id": thread_id}).unique())
    messages = [m for m in found if m.status != Status.DRAFT]
    if not messages:
        return None
    drafts = [m for m in found if m.status == Status.DRAFT]
    return thread, messages, (drafts[-1] if drafts else None)


@lru_cache(maxsize=256)  # about 70 KB each once compiled
def _conversation_statement(user: Viewer):
    """A conversation's messages as `user` sees them, built once per user: SQLAlchemy then finds
    its compiled form without walking the access rules' clauses again on every pane."""
    return (
        select(Message)
        .where(
            Message.thread_id == bindparam("pane_thread_id"),
            visible(user),
            Message.status != Status.CANCELLED,
            or_(Message.status != Status.DRAFT, Message.sender_id == user.id),
        )
        .order_by(Message.sort_at, Message.id)
        .options(*_MESSAGE_NAME_ONLY)
    )


def visible_message(user, message_id: int) -> Message | None:
    """The message if the user may see it, else None (a 404)."""
    return db.session.scalar(
        select(Message).where(Message.id == message_id, visible(user), Message.status != Status.DRAFT)
    )
