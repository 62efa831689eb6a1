"""Folder membership as data: which conversation is in which folder, for whom.

The folder rules are docs/folders.md's, written once in SQL by folders.qualifies (the
reference, which the tests hold this module to) and here in Python, run over a batch of
conversations with everything they need read in a fixed number of statements. The result is
kept in folder_entries, so a folder page is one range read. Every change that can move a
conversation in or out of a folder (classification, a send's progress, archive, follow,
convert, read state, offer access, placements) calls `refresh` in its own transaction;
`rebuild` recomputes the whole table from the source rows.

The unread counters of the folder list (folder_counts) are kept here too: a refresh adds to
them what it changed, so reading a user's counts costs the same at any size.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import CompoundSelect, Select, delete, func, insert, select, union
from sqlalchemy.dialects import postgresql, sqlite

from webapp import changes
from webapp.extensions import db
from webapp.mail.read.folders import FOLDERS
from webapp.models import (
    AUTHOR_ONLY_STATUSES,
    DELIVERED_STATUSES,
    SEARCH_EVERYWHERE,
    SENT_FOLDER_STATUSES,
    CandidateFollow,
    Direction,
    FolderCount,
    FolderEntry,
    Message,
    MessageRead,
    MessageRecipient,
    OfferAccess,
    OfferFollow,
    Placement,
    Status,
    Thread,
    User,
)
from webapp.models.core import InList, RowsInsert, table_of

# Conversations handled per round of reads (an IN list each): bounded for SQLite's parameters.
BATCH = 400
_SENT_FOLDER = frozenset(SENT_FOLDER_STATUSES)
_DELIVERED = frozenset(DELIVERED_STATUSES)
_AUTHOR_ONLY = frozenset(AUTHOR_ONLY_STATUSES)
_NEVER_SEARCHED = frozenset((Status.DRAFT, Status.CANCELLED))
# The folders whose unread conversations the folder list counts: the only counters kept.
COUNTED = frozenset(f.slug for f in FOLDERS if f.counts_unread)


@dataclass
class _Message:
    id: int
    thread_id: int
    direction: str
    status: str
    is_auto_reply: bool
    candidate_id: int | None
    is_internal: bool
    is_cv: bool
    cv_offer_id: int | None
    cv_processed_at: datetime | None
    sender_id: int | None
    sort_at: datetime
    has_attachments: bool
    shown_to_participants: bool
    recipients: set[int] = field(default_factory=set)

    @property
    def is_mail(self) -> bool:
        """Mail that has really travelled, not an auto-reply (a note, never a reason)."""
        return self.status in _DELIVERED and not self.is_auto_reply

    @property
    def is_candidate_mail(self) -> bool:
        """Mail with a candidate (before asking whether a given user may see them)."""
        return self.is_mail and self.candidate_id is not None and not self.is_internal and not self.is_cv


@dataclass
class _Thread:
    id: int
    is_archived: bool
    candidate_id: int | None
    last_message_at: datetime
    messages: list[_Message] = field(default_factory=list)
    participants: set[int] = field(default_factory=set)  # wrote or received any of its messages


@dataclass
class _Facts:
    """Everything the rules ask about a batch of conversations, read once."""

    threads: list[_Thread]
    admins: set[int]
    users: list[int]
    access: dict[int, set[int]]  # user -> offers
    placements: dict[int, set[int]]  # candidate -> offers
    read: set[tuple[int, int]]  # (user, message)
    candidate_follows: set[tuple[int, int]]
    offer_follows: set[tuple[int, int]]


class _Viewer:
    """One user's view of the batch: the access rule (access.visible and friends) in Python."""

    def __init__(self, user_id: int, facts: _Facts):
        self.id = user_id
        self.facts = facts
        self.is_admin = user_id in facts.admins
        self.offers = facts.access.get(user_id, set())

    def has_offer_access(self, offer_id: int) -> bool:
        return self.is_admin or offer_id in self.offers

    def sees_candidate(self, candidate_id: int, thread: _Thread) -> bool:
        """Admin, placed on an offer of theirs, or unplaced and in a conversation they took part in."""
        if self.is_admin:
            return True
        placed = self.facts.placements.get(candidate_id)
        if placed:
            return not placed.isdisjoint(self.offers)
        return self.id in thread.participants

    def sees(self, m: _Message, thread: _Thread) -> bool:
        """access.visible: may this user see the message, whatever folder it is in."""
        if m.status in _DELIVERED:
            if m.is_cv:
                return self.has_offer_access(m.cv_offer_id) if m.cv_offer_id is not None else self.is_admin
            if m.is_internal:
                took_part = m.sender_id == self.id or self.id in m.recipients
                return took_part or (
                    thread.candidate_id is not None and self.sees_candidate(thread.candidate_id, thread)
                )
            if m.candidate_id is None:  # an offer's CV forwarded or answered: that offer's team
                return m.cv_offer_id is None or self.has_offer_access(m.cv_offer_id)
            return self.sees_candidate(m.candidate_id, thread) or self.keeps(m)
        if m.status in _AUTHOR_ONLY:
            return m.sender_id == self.id and (
                m.candidate_id is None or self.sees_candidate(m.candidate_id, thread) or self.keeps(m)
            )
        return m.status == Status.QUARANTINED and self.is_admin

    def keeps(self, m: _Message) -> bool:
        """access.kept_by_participant: mail shown to those who took part, and this user did."""
        return m.shown_to_participants and (m.sender_id == self.id or self.id in m.recipients)

    def folders_of(self, m: _Message, thread: _Thread, seen: bool) -> Iterator[str]:
        """The folders this message puts its conversation in, for this user (folders.qualifies).

        `seen`: whether the user may see the message (`sees`, worked out once by the caller).
        """
        live = not thread.is_archived
        if m.is_candidate_mail and m.candidate_id is not None and self.sees_candidate(m.candidate_id, thread):
            if live:
                yield "candidates"
                if m.direction == Direction.INBOUND and self.id in m.recipients:
                    yield "inbox"
                if (self.id, m.candidate_id) in self.facts.candidate_follows:
                    yield "followed-candidates"
                if any(
                    (self.id, offer) in self.facts.offer_follows and self.has_offer_access(offer)
                    for offer in self.facts.placements.get(m.candidate_id, ())
                ):
                    yield "followed-jobs"
        elif (
            m.is_mail
            and not m.is_internal
            and not m.is_cv
            and m.cv_offer_id is None
            and (m.candidate_id is None or self.keeps(m))  # theirs, with a candidate hidden from them
            and live
        ):
            yield "non-candidates"
        mine = m.direction == Direction.OUTBOUND and m.sender_id == self.id
        if mine and m.status in _SENT_FOLDER and seen:
            yield "sent"
        if mine and m.status == Status.SCHEDULED and seen:
            yield "scheduled"
        if mine and m.status == Status.DRAFT and seen:
            yield "drafts"
        if thread.is_archived and m.is_mail and not m.is_cv and seen:
            yield "archived"
        if (
            m.direction == Direction.INBOUND
            and m.is_cv
            and m.cv_processed_at is None
            and m.status == Status.RECEIVED
            and seen
        ):
            yield "incoming-cv"
        if seen and m.status not in _NEVER_SEARCHED and not m.is_auto_reply:
            yield SEARCH_EVERYWHERE

    def is_unread(self, m: _Message) -> bool:
        """folders.is_unread: inbound mail this user has not read (auto-replies never count)."""
        return (
            m.direction == Direction.INBOUND
            and m.status == Status.RECEIVED
            and not m.is_auto_reply
            and (self.id, m.id) not in self.facts.read
        )

    def entries(self, thread: _Thread) -> list[dict]:
        """This user's folder entries for one conversation (none when it is in no folder)."""
        newest: dict[str, _Message] = {}
        unread: set[str] = set()
        count, attachments = 0, False
        for m in thread.messages:  # oldest first: the last one kept is the newest
            seen = self.sees(m, thread)
            if seen:
                count += m.status != Status.DRAFT  # the pane shows no draft among the messages
                attachments = attachments or m.has_attachments
            is_unread = self.is_unread(m)
            for folder in self.folders_of(m, thread, seen):
                newest[folder] = m
                # A draft waits for its author: the Drafts counter counts them (folders.py).
                if is_unread or folder == "drafts":
                    unread.add(folder)
        return [
            {
                "user_id": self.id,
                "folder": folder,
                "thread_id": thread.id,
                "activity_at": thread.last_message_at,
                "message_id": m.id,
                "is_unread": folder in unread,
                "message_count": count,
                "has_attachments": attachments,
            }
            for folder, m in newest.items()
        ]


# Set by `deferred`: whole conversations to refresh later, in the same transaction.
_DEFERRED: ContextVar[set[int] | None] = ContextVar("entries_deferred", default=None)


@contextmanager
def deferred(into: set[int]) -> Iterator[set[int]]:
    """Within, a refresh of whole conversations only adds their ids to `into`: the caller
    refreshes them once, later in the same transaction (a drain's group of classifications
    computes each conversation once, not once per message)."""
    token = _DEFERRED.set(into)
    try:
        yield into
    finally:
        _DEFERRED.reset(token)


def refresh(thread_ids: Iterable[int | None], user_ids: Iterable[int] | None = None) -> None:
    """Recompute the folder entries of these conversations (for these users only, if given). Flushes.

    Call it in the transaction of the change, after the change is written.
    """
    later = _DEFERRED.get()
    if later is not None and user_ids is None:
        later.update(t for t in thread_ids if t is not None)
        return
    # The reads below are Core statements, which do not flush the session: what the change
    # left pending must be in the database first.
    db.session.flush()
    ids = sorted({t for t in thread_ids if t is not None})
    users = None if user_ids is None else sorted(set(user_ids))
    for start in range(0, len(ids), BATCH):
        _refresh_batch(ids[start : start + BATCH], users)


def forget(thread_ids: Iterable[int]) -> None:
    """Remove these conversations' entries, and their unread ones from the counters. Flushes.

    Call it before deleting messages or conversations: the database would delete their entries
    itself (ON DELETE CASCADE) but not count them out. Refresh what remains afterwards.
    """
    db.session.flush()
    ids = sorted(set(thread_ids))
    for start in range(0, len(ids), BATCH):
        _write([], replace=(ids[start : start + BATCH], None))


def refresh_candidates(candidate_ids: Iterable[int], user_ids: Iterable[int] | None = None) -> None:
    """Recompute the conversations with these candidates (their placements or follows changed)."""
    ids = sorted(set(candidate_ids))
    if ids:
        refresh(db.session.scalars(_conversations_with(ids)), user_ids)


def refresh_offer(offer_id: int, user_ids: Iterable[int] | None = None) -> None:
    """Recompute what an offer's access decides: its candidates' conversations and its CVs."""
    placed = select(Placement.candidate_id).where(Placement.offer_id == offer_id)
    cvs = select(Message.thread_id).where(Message.cv_offer_id == offer_id)
    refresh(db.session.scalars(_conversations_with(placed, cvs)), user_ids)


def _conversations_with(candidates, *more: Select) -> CompoundSelect:
    """The conversations of these candidates (ids or a SELECT of ids), by a message or by the
    conversation itself (which decides who sees its internal notes), and those of `more`."""
    return union(
        select(Message.thread_id).where(Message.candidate_id.in_(candidates)),
        select(Thread.id).where(Thread.candidate_id.in_(candidates)),
        *more,
    )


def refresh_user(user_id: int) -> None:
    """Compute every entry of one user (a new team member, say)."""
    refresh(db.session.scalars(select(Thread.id)), [user_id])


def rebuild() -> int:
    """Recompute every entry and unread counter from the source rows; returns how many entries. Flushes."""
    db.session.flush()
    db.session.execute(delete(FolderEntry))
    db.session.execute(delete(FolderCount))
    ids = list(db.session.scalars(select(Thread.id).order_by(Thread.id)))
    for start in range(0, len(ids), BATCH):
        _write(_entries_for(_facts(ids[start : start + BATCH], None)), replace=None)
    db.session.execute(_COUNT_ALL)
    return db.session.query(FolderEntry).count()


def _refresh_batch(thread_ids: list[int], user_ids: list[int] | None) -> None:
    rows = _entries_for(_facts(thread_ids, user_ids))
    _write(rows, replace=(thread_ids, user_ids))


# The statements, built once (classification refreshes a conversation for every message it
# files): Core over the tables, the id lists as expanding parameters.
_t, _m = table_of(Thread), table_of(Message)
_recipients, _reads = table_of(MessageRecipient), table_of(MessageRead)
_placements, _access = table_of(Placement), table_of(OfferAccess)
_cfollows, _ofollows, _users = table_of(CandidateFollow), table_of(OfferFollow), table_of(User)
# The conversations are locked first, in id order (PostgreSQL; SQLite has one writer anyway):
# two workers filing mail into one conversation refresh it one after the other, the second
# reading what the first committed, instead of both writing what they each saw.
# FOR NO KEY UPDATE, not FOR UPDATE: it need not wait for the key-share locks that the foreign
# keys take (a message filed into the conversation by another worker's open group holds one
# until that group commits), only for another refresh or change of the conversation.
_THREAD_ROWS = (
    select(_t.c.id, _t.c.is_archived, _t.c.candidate_id, _t.c.last_message_at)
    .where(InList(_t.c.id, "threads"))
    .order_by(_t.c.id)
    .with_for_update(key_share=True)
)
_MESSAGE_ROWS = select(
    _m.c.id,
    _m.c.thread_id,
    _m.c.direction,
    _m.c.status,
    _m.c.is_auto_reply,
    _m.c.candidate_id,
    _m.c.is_internal,
    _m.c.is_cv,
    _m.c.cv_offer_id,
    _m.c.cv_processed_at,
    _m.c.sender_id,
    _m.c.sort_at,
    _m.c.has_attachments,
    _m.c.shown_to_participants,
).where(InList(_m.c.thread_id, "threads"))
_RECIPIENT_ROWS = (
    select(_recipients.c.message_id, _recipients.c.user_id)
    .join(_m, _m.c.id == _recipients.c.message_id)
    .where(InList(_m.c.thread_id, "threads"))
)
# Who read which inbound message of the conversations.
_READ_ROWS = (
    select(_reads.c.user_id, _reads.c.message_id)
    .join(_m, _m.c.id == _reads.c.message_id)
    .where(InList(_m.c.thread_id, "threads"), _m.c.direction == Direction.INBOUND)
)
_PLACEMENT_ROWS = select(_placements.c.candidate_id, _placements.c.offer_id).where(
    InList(_placements.c.candidate_id, "keys")
)
_ACCESS_ROWS = select(_access.c.user_id, _access.c.offer_id).where(InList(_access.c.offer_id, "keys"))
_CANDIDATE_FOLLOWS = select(_cfollows.c.user_id, _cfollows.c.candidate_id).where(
    InList(_cfollows.c.candidate_id, "keys")
)
_OFFER_FOLLOWS = select(_ofollows.c.user_id, _ofollows.c.offer_id).where(InList(_ofollows.c.offer_id, "keys"))
_ALL_USERS = select(_users.c.id, _users.c.role).order_by(_users.c.id)
_SOME_USERS = _ALL_USERS.where(InList(_users.c.id, "users"))
_entries_table = table_of(FolderEntry)
# The entries replaced say, as they go, which unread ones the counters must lose.
_DELETE = (
    delete(_entries_table)
    .where(InList(_entries_table.c.thread_id, "threads"))
    .returning(_entries_table.c.user_id, _entries_table.c.folder, _entries_table.c.is_unread)
)
_DELETE_FOR_USERS = _DELETE.where(InList(_entries_table.c.user_id, "users"))
_INSERT = RowsInsert(_entries_table)
_counts = table_of(FolderCount)
_COUNT_ALL = insert(_counts).from_select(
    ["user_id", "folder", "unread"],
    select(_entries_table.c.user_id, _entries_table.c.folder, func.count())
    .where(_entries_table.c.is_unread, _entries_table.c.folder.in_(COUNTED))
    .group_by(_entries_table.c.user_id, _entries_table.c.folder),
)


def _add_counts(dialect: str):
    """INSERT a counter, or add to the one there (n = n + delta: never read, then written)."""
    statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(_counts)
    return statement.on_conflict_do_update(
        index_elements=[_counts.c.user_id, _counts.c.folder],
        set_={"unread": _counts.c.unread + statement.excluded.unread},
    )


_ADD_COUNTS = {dialect: _add_counts(dialect) for dialect in ("postgresql", "sqlite")}


def _write(rows: list[dict], replace: tuple[list[int], list[int] | None] | None) -> None:
    """Write the entries (replacing those of `replace`'s conversations and users) and,
    when replacing, add the change of unread entries to the counters."""
    if replace is None:  # rebuild: the counters are counted once, at the end
        changes.touch_team(db.session)
        _INSERT(rows)
        return
    thread_ids, user_ids = replace
    # Kept pages of those who may now see another folder: everyone's, or these users' only.
    if user_ids is None:
        changes.touch_team(db.session)
    else:
        changes.touch_users(db.session, user_ids)
    if user_ids is None:
        gone = db.session.execute(_DELETE, {"threads": thread_ids})
    else:
        gone = db.session.execute(_DELETE_FOR_USERS, {"threads": thread_ids, "users": user_ids})
    delta: Counter[tuple[int, str]] = Counter()
    for user_id, folder, was_unread in gone:
        if was_unread and folder in COUNTED:
            delta[user_id, folder] -= 1
    _INSERT(rows)
    for row in rows:
        if row["is_unread"] and row["folder"] in COUNTED:
            delta[row["user_id"], row["folder"]] += 1
    # In key order: two transactions adding to the same counters take their locks in one order.
    counts = [{"user_id": u, "folder": f, "unread": n} for (u, f), n in sorted(delta.items()) if n]
    if counts:
        db.session.execute(_ADD_COUNTS[db.session.get_bind().dialect.name], counts)


def _entries_for(facts: _Facts) -> list[dict]:
    viewers = [_Viewer(u, facts) for u in facts.users]
    return [row for thread in facts.threads for viewer in viewers for row in viewer.entries(thread)]


def _facts(thread_ids: list[int], user_ids: list[int] | None) -> _Facts:
    """Read what the rules need about these conversations: a fixed number of statements."""
    run = db.session.execute
    ids = {"threads": thread_ids}
    threads = {row.id: _Thread(*row) for row in run(_THREAD_ROWS, ids)}
    messages = {row.id: _Message(*row) for row in run(_MESSAGE_ROWS, ids)}
    for m in messages.values():
        thread = threads[m.thread_id]
        thread.messages.append(m)
        if m.sender_id is not None:
            thread.participants.add(m.sender_id)
    for message_id, user_id in run(_RECIPIENT_ROWS, ids):
        m = messages[message_id]
        m.recipients.add(user_id)
        threads[m.thread_id].participants.add(user_id)
    for thread in threads.values():
        thread.messages.sort(key=lambda m: (m.sort_at, m.id))
    candidates = {m.candidate_id for m in messages.values() if m.candidate_id is not None}
    candidates |= {t.candidate_id for t in threads.values() if t.candidate_id is not None}
    placements = _grouped(_PLACEMENT_ROWS, candidates)
    offers = {o for placed in placements.values() for o in placed}
    offers |= {m.cv_offer_id for m in messages.values() if m.cv_offer_id is not None}
    users = list(run(_ALL_USERS) if user_ids is None else run(_SOME_USERS, {"users": user_ids}))
    return _Facts(
        threads=list(threads.values()),
        admins={u.id for u in users if u.role == "admin"},
        users=[u.id for u in users],
        access=_grouped(_ACCESS_ROWS, offers),
        placements=placements,
        read=set(run(_READ_ROWS, ids).tuples()),
        candidate_follows=_pairs(_CANDIDATE_FOLLOWS, candidates),
        offer_follows=_pairs(_OFFER_FOLLOWS, offers),
    )


def _grouped(query, keys: set[int]) -> dict[int, set[int]]:
    """{first column: {second column}} of the query's rows for these keys."""
    found: dict[int, set[int]] = defaultdict(set)
    if keys:
        for a, b in db.session.execute(query, {"keys": sorted(keys)}):
            found[a].add(b)
    return found


def _pairs(query, keys: set[int]) -> set[tuple[int, int]]:
    """The query's (user, followed) rows for these keys."""
    if not keys:
        return set()
    return set(db.session.execute(query, {"keys": sorted(keys)}).tuples())
