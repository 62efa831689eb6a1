"""The inbound pipeline: store the raw bytes first, classify later (in the worker).

The worker classifies in drains (`drain_unclassified`): it claims the oldest stored,
unclassified messages in batches (a compare-and-set on `classify_claimed_at`) and classifies
each in its own transaction, in one long-lived process with one database connection, instead
of a job, a fork and an engine per message.
"""

import contextlib
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, Row, bindparam, func, literal_column, select, update

from webapp.extensions import db, unsynced_commits
from webapp.mail.domain import MailDomain
from webapp.mail.inbound.classify import OTHER_COPY, GroupLookups, decide, look_up_group
from webapp.mail.inbound.filing import (
    FILED_COLUMNS,
    Deferred,
    deferred_writes,
    file_decision,
    file_quarantine,
    write_deferred,
)
from webapp.mail.inbound.parse import Limits, ParsedMail, limit_violations, parse_file
from webapp.mail.read import entries
from webapp.mail.storage import BlobStore
from webapp.models import Direction, Message, Outcome, Status
from webapp.models.core import InList, table_of
from webapp.models.types import UTCDateTime, utcnow

log = logging.getLogger(__name__)
# How many times the sweep queues a lost classification again before giving up on the message
# (quarantined, kept for an admin): one that kills its worker (out of memory...) must not
# come back forever.
MAX_REQUEUES = 3
# Classifying one message never takes longer than this (seconds): past it the message is
# quarantined (a poison message, e.g. quadratic address parsing), never tried again.
TIME_LIMIT_S = 30.0
# A claim older than this was lost (its worker died): the message is claimed again. Longer
# than a drain's budget plus one message's time limit, so a live drain never loses its claims.
CLAIM_STALE_AFTER = timedelta(seconds=120)
DEFAULT_LIMITS = Limits()
_messages = table_of(Message)
# What classifying needs of the stored row (Core: no entity to load).
_STORED_COLUMNS = select(
    _messages.c.id,
    _messages.c.outcome,
    _messages.c.raw_sha256,
    _messages.c.raw_size,
    _messages.c.envelope_to,
    _messages.c.source,
    _messages.c.created_at,
    *(_messages.c[name] for name in FILED_COLUMNS),
    OTHER_COPY,
)
_STORED = _STORED_COLUMNS.where(_messages.c.id == bindparam("message_id"))
# Two copies of one mail are decided one after the other, never side by side: each would
# find the other not yet filed, and both would be filed. On PostgreSQL the read also locks the
# message's bytes until the commit (a drain's group commits up to 0.25 s after its reads).
# SQLite has one write lock: it is taken (an UPDATE of nothing) after parsing, just before
# deciding, so the listener is not kept waiting while a message is parsed.
_BYTES_LOCKED = func.pg_advisory_xact_lock(func.hashtextextended(_messages.c.raw_sha256, 0)).label(
    "bytes_locked"
)
_STORED_LOCKED = _STORED.add_columns(_BYTES_LOCKED)
# A drain's group reads its messages' rows at once, before its first write (one statement,
# not one a message). PostgreSQL takes their locks in the order of their bytes' hashes (it
# calls a volatile function after the sort), so two groups never wait for each other in a
# circle; holding nothing else yet, a group that waits for another's copy waits only for it.
# A copy stored after the read is no danger: its own read finds this row (OTHER_COPY) and,
# under the lock, asks the duplicate question.
_GROUP_STORED = {
    "postgresql": _STORED_COLUMNS.add_columns(_BYTES_LOCKED)
    .where(InList(_messages.c.id, "ids"))
    .order_by(_messages.c.raw_sha256, _messages.c.id),
    "sqlite": _STORED_COLUMNS.where(InList(_messages.c.id, "ids")),
}
_TAKE_WRITE_LOCK = update(_messages).where(literal_column("0") == 1).values(outcome=_messages.c.outcome)
_OUTCOME = select(_messages.c.outcome).where(_messages.c.id == bindparam("message_id"))


def store_inbound(
    raw: bytes, *, store: BlobStore, source: str, envelope_from=None, envelope_to=(), durable: bool = True
) -> Message:
    """Keep the bytes and an unclassified row (flushed); nothing is parsed yet, so nothing can fail.

    durable=False: the caller makes the blob durable itself before it commits (a batch at once).
    """
    sha256 = store.put(raw, durable=durable)
    msg = unclassified_row(sha256, len(raw), source, envelope_from, envelope_to, utcnow())
    db.session.add(msg)
    db.session.flush()
    return msg


def unclassified_row(
    sha256: str, size: int, source: str, envelope_from, envelope_to, now: datetime
) -> Message:
    """The row of raw bytes already kept in the blob store, not classified yet (not added)."""
    return Message(**unclassified_values(sha256, size, source, envelope_from, envelope_to, now))


def unclassified_values(
    sha256: str, size: int, source: str, envelope_from, envelope_to, now: datetime
) -> dict:
    """unclassified_row's columns, for a Core INSERT of many rows at once."""
    return {
        "direction": Direction.INBOUND,
        "status": Status.RECEIVED,
        "raw_sha256": sha256,
        "raw_size": size,
        "source": source,
        "envelope_from": (envelope_from or "")[:998] or None,
        "envelope_to": [a.lower() for a in envelope_to],
        "created_at": now,
        "received_at": now,
        "sort_at": now,
    }


class ClassifyTimeout(BaseException):
    """Classifying one message took longer than its time limit.

    A BaseException, as KeyboardInterrupt is: the readers of untrusted mail catch Exception
    to fall back to raw text, and would swallow it, then carry on for as long as the poison
    message takes (the fault tests caught a 2 s message classified under a 0.5 s bound).
    """


@contextlib.contextmanager
def _time_bound(seconds: float | None):
    """Raise ClassifyTimeout in this thread after `seconds` (main thread only: it uses SIGALRM).

    Elsewhere (a thread of the web app, the listener) there is no bound here; the drain's
    claim, lost when its worker is killed, still ends with the message quarantined. An
    alarm already set (RQ's timeout of the whole job) is kept: put back afterwards, less the
    time spent, or left alone if it comes first.
    """
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_delay, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_delay and outer_delay <= seconds:  # the job's own timeout comes first: it decides
        yield
        return

    def expired(signum, frame):
        # Raised again every 10 ms until it gets out: raised inside a finaliser (a __del__ or a
        # weakref callback run by the garbage collector) it is only printed, and the work would
        # run on; at 0.1 s a second one could come after a slow step had ended (a flaky test).
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        raise ClassifyTimeout(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    started = time.monotonic()
    _, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            left = max(0.001, outer_delay - (time.monotonic() - started))
            signal.setitimer(signal.ITIMER_REAL, left, outer_interval)


class FiledElsewhere(Exception):
    """Another worker filed the message meanwhile (a drain grouping commits starts over)."""


def classify_stored(
    message_id: int,
    *,
    settings: MailDomain,
    store: BlobStore,
    limits: Limits = DEFAULT_LIMITS,
    time_limit: float | None = TIME_LIMIT_S,
    commit: bool = True,
    ahead: "ParsedAhead | None" = None,
    stored: Row | None = None,
) -> str | None:
    """Classify one stored message in one transaction; a no-op if it is already classified. Commits.

    Nothing is written before the outcome: the row is filed only while still unclassified (a
    compare-and-set), so a second run, or a second worker, finds it done and changes nothing.
    A worker that dies half-way leaves it unclassified, for the sweep to queue again. Past
    `time_limit` seconds the message is quarantined.

    commit=False files it in the caller's transaction and raises instead (any failure,
    FiledElsewhere, ClassifyTimeout): the caller rolls back and classifies one by one.

    ahead: the message parsed already (`parse_ahead`), or how parsing it failed; the time
    it took counts against `time_limit`. stored: its row, read (and locked) by the caller in
    this transaction (`_GROUP_STORED`).
    """
    if stored is None:
        stored = _read_stored(message_id)
    if stored is None or stored.outcome is not None:
        if commit:
            db.session.commit()  # nothing to do: the lock goes at once
        return stored.outcome if stored is not None else None
    now = utcnow()
    if ahead is not None and time_limit:
        time_limit = max(time_limit - ahead.seconds, 0.001)
    if not commit:
        with _time_bound(time_limit):
            outcome, filed = _file(stored, message_id, settings, store, limits, now, [], ahead)
        if not filed:
            raise FiledElsewhere(message_id)
        return outcome
    try:
        with _time_bound(time_limit):
            return _classify(stored, message_id, settings, store, limits, now, ahead)
    except (Exception, ClassifyTimeout) as exc:  # whatever the message does to us, it is kept, not lost
        log.exception("classifying message %s failed; quarantining it", message_id)
        db.session.rollback()
        problems = [f"classification failed: {type(exc).__name__}: {exc}"[:500]]
        return _settle(message_id, file_quarantine(message_id, None, problems, now), Outcome.QUARANTINED)


def _read_stored(message_id: int):
    """The stored row (_STORED); on PostgreSQL under the lock that keeps copies of its mail apart."""
    postgresql = db.engine.dialect.name == "postgresql"
    return db.session.execute(_STORED_LOCKED if postgresql else _STORED, {"message_id": message_id}).first()


def _apart_from_copies(stored) -> bool:
    """Hold the lock that keeps the copies of this mail apart; whether to ask the duplicate question.

    PostgreSQL took it with the row (_STORED_LOCKED), and the row says whether a copy exists.
    SQLite takes its one write lock now, after parsing; a copy may have been stored since the
    row was read, so the question is asked under the lock.
    """
    if db.engine.dialect.name != "sqlite":
        return stored.other_copy_id is not None
    db.session.execute(_TAKE_WRITE_LOCK)
    return True


def _classify(
    stored, message_id: int, settings: MailDomain, store: BlobStore, limits: Limits, now, ahead=None
) -> str | None:
    """Classify and commit one stored message, quarantining it on any failure (time bound included)."""
    parsed: list[ParsedMail] = []
    try:
        outcome, filed = _file(stored, message_id, settings, store, limits, now, parsed, ahead)
        return _settle(message_id, filed, outcome)
    except (Exception, ClassifyTimeout) as exc:
        # Quarantined with what was parsed (sender, subject) while the time bound still runs;
        # once it has fired, it would fire again every 0.1 s: the quarantine is quick, let it be.
        if isinstance(exc, ClassifyTimeout):
            signal.setitimer(signal.ITIMER_REAL, 0)
        log.exception("classifying message %s failed; quarantining it", message_id)
        db.session.rollback()
        problems = [f"classification failed: {type(exc).__name__}: {exc}"[:500]]
        kept = parsed[0] if parsed else None
        return _settle(message_id, file_quarantine(message_id, kept, problems, now), Outcome.QUARANTINED)


def _file(
    stored,
    message_id: int,
    settings: MailDomain,
    store: BlobStore,
    limits: Limits,
    now,
    parsed_out: list,
    ahead: "ParsedAhead | None" = None,
) -> tuple[str, bool]:
    """Parse (unless parsed ahead), decide and file (not committed): (outcome, whether this call filed it)."""
    if ahead is not None and ahead.error is not None:
        raise ahead.error  # as if it had failed here: the same quarantine, without a second try
    if ahead is not None and ahead.parsed is not None and ahead.header_bytes == limits.header_bytes:
        parsed, head = ahead.parsed, ahead.head
    else:
        parsed, head = _parse_stored(stored.raw_sha256, store, limits.header_bytes)
    parsed_out.append(parsed)
    problems = limit_violations(head, parsed.email, limits) if parsed.email is not None else ["unparseable"]
    if problems:
        return Outcome.QUARANTINED, file_quarantine(message_id, parsed, problems, now)
    may_be_duplicate = _apart_from_copies(stored)
    decision = decide(
        parsed,
        sha256=stored.raw_sha256,
        envelope_to=stored.envelope_to,
        settings=settings,
        own_id=message_id,
        may_be_duplicate=may_be_duplicate,
        source=stored.source,
        known=ahead.known if ahead is not None and parsed is ahead.parsed else None,
    )
    return decision.outcome, file_decision(stored, parsed, decision, store, now)


def _parse_stored(sha256: str, store: BlobStore, header_bytes: int) -> tuple[ParsedMail, bytes]:
    """The stored message parsed, and its first bytes (enough for the header limit's verdict)."""
    # Parsed from the file in chunks: a big message is never in memory twice. The header
    # limit only needs the first header_bytes + 4 bytes to give the same verdict.
    with store.open(sha256) as fh:
        return parse_file(fh, head_bytes=header_bytes + 4)


@dataclass
class ParsedAhead:
    """A message parsed before its group's first write (or how parsing it failed), and how long it took."""

    seconds: float
    header_bytes: int
    parsed: ParsedMail | None = None
    head: bytes = b""
    error: BaseException | None = None
    known: GroupLookups | None = None  # what decide asks, asked for the group at once


def classify_stored_together(
    message_ids: list[int], *, settings: MailDomain, store: BlobStore, limits: Limits = DEFAULT_LIMITS
) -> list[str | None]:
    """Classify messages stored together (a mailbox sync's batch) with one commit for all. Commits.

    The same classification as classify_stored, each message seeing those before it. Should
    any surprise come (a message that fails, one filed meanwhile by someone else), the batch is
    rolled back and each message classified on its own by classify_stored.
    """
    try:
        outcomes = [
            classify_stored(i, settings=settings, store=store, limits=limits, commit=False)
            for i in message_ids
        ]
        db.session.commit()
        return outcomes
    except (Exception, ClassifyTimeout):
        db.session.rollback()
        return [classify_stored(i, settings=settings, store=store, limits=limits) for i in message_ids]


def _settle(message_id: int, filed: bool, outcome: str) -> str | None:
    """Commit what was filed; if someone else filed the message meanwhile, theirs stands."""
    if not filed:
        db.session.rollback()
        return db.session.scalar(_OUTCOME, {"message_id": message_id})
    db.session.commit()
    return outcome


@dataclass
class Drained:
    """What a drain did: outcomes by kind, and whether it stopped with messages left."""

    outcomes: Counter = field(default_factory=Counter)
    more: bool = False

    @property
    def count(self) -> int:
        return sum(self.outcomes.values())


class DrainWatch(Protocol):
    """The one drain that watches for new mail (a lease kept by the job, in Redis).

    Mail stored while a drain watches wakes no other drain: the watcher looks again before it
    stops. A drain that finds nothing while another watches gives its worker back at once.
    """

    def take(self) -> bool:
        """Become or stay the watcher; False if another drain watches."""

    def keep(self) -> None:
        """Still watching (called for every message and poll; renews the lease now and then)."""

    def release(self) -> None:
        """Stop watching: from now on, new mail wakes a drain again."""


def drain_unclassified(
    *,
    settings: MailDomain,
    store: BlobStore,
    budget: float,
    batch: int = 50,
    time_limit: float | None = TIME_LIMIT_S,
    stale_after: timedelta = CLAIM_STALE_AFTER,
    linger: float = 0.0,
    stop_lingering: Callable[[], bool] | None = None,
    watch: DrainWatch | None = None,
    on_full_claim: Callable[[], None] | None = None,
) -> Drained:
    """Classify stored messages, oldest first, until none is left or `budget` seconds are spent.

    Claims a batch at a time and commits classifications in small groups (`_Group`), so a
    drain killed mid-batch loses nothing: what it committed stays, what it claimed comes back
    when the claim goes stale. Past the budget, the rest of the batch is given back.

    `linger`: with nothing left, keep looking for that long (a cheap read every
    LINGER_POLL_S) before returning, unless `stop_lingering()` says other work waits: mail
    arriving in a burst, a few messages at a time, is classified by this drain as it comes,
    not by a new job (a fork, a connection) for every few messages.

    `watch`: with several workers, one drain watches and lingers; the others return as soon as
    nothing is left, instead of each claiming two messages of every few that arrive (three
    drains then cost 1.7 times the CPU of one). `on_full_claim()` is called when a claim came
    back full: a backlog, which other workers may join.

    On SQLite its commits skip the fsync (`unsynced_commits`): they held the write lock the
    listener waits for, 3 to 10 ms each, twice for every few messages; what a power cut takes
    back is classified again.
    """
    drain = _Drain(settings, store, budget, batch, time_limit, stale_after, linger, stop_lingering)
    with unsynced_commits():
        if watch is None:
            return drain.run(None, on_full_claim)
        try:
            watch.take()  # watching from the start: arrivals meanwhile wake no other drain
            return drain.run(watch, on_full_claim)
        finally:
            watch.release()


# How often a lingering drain looks for new mail (seconds).
LINGER_POLL_S = 0.02


@dataclass
class _Drain:
    """drain_unclassified's loop and its settings."""

    settings: MailDomain
    store: BlobStore
    budget: float
    batch: int
    time_limit: float | None
    stale_after: timedelta
    linger: float
    stop_lingering: Callable[[], bool] | None
    stale_look_at: float = 0.0  # monotonic: when stale claims come first again

    def run(self, watch: DrainWatch | None, on_full_claim: Callable[[], None] | None) -> Drained:
        """Claim, classify and commit until nothing is left (after lingering) or the budget is spent."""
        done = Drained()
        deadline = time.monotonic() + self.budget
        idle_until = time.monotonic() + self.linger
        last_look = False
        while True:
            claimed = self._claim_next()
            if not claimed:
                if last_look or (watch is not None and not watch.take()):
                    return done  # another drain watches for new mail: this worker is free
                if self._wait_for_more(min(idle_until, deadline), watch):
                    continue
                if watch is None:
                    return done
                watch.release()
                # Mail stored while this drain watched woke no other drain: look once more.
                if not self._claimable():
                    return done
                last_look = True
                continue
            last_look = False
            if len(claimed) == self.batch and on_full_claim is not None:
                on_full_claim()
            idle_until = time.monotonic() + self.linger
            group = _Group(self.settings, self.store, self.time_limit, done)
            for position, message_id in enumerate(claimed):
                if time.monotonic() > deadline:
                    group.commit()
                    release_claims(claimed[position:])
                    done.more = True
                    return done
                if watch is not None:
                    watch.keep()
                if not group.ids:  # nothing written yet: parse before the write lock is taken
                    group.parse_ahead(claimed[position:])
                group.add(message_id)
            group.commit()
            if time.monotonic() > deadline:
                done.more = True
                return done

    def _claim_next(self) -> list[int]:
        """The next claim. A claim goes stale after minutes: stale ones come first at the
        drain's first claim, then every twentieth of that delay; in between only when nothing
        unclaimed is left."""
        stale_first = time.monotonic() >= self.stale_look_at
        if stale_first:
            self.stale_look_at = time.monotonic() + self.stale_after.total_seconds() / 20
        return claim_unclassified(self.batch, stale_after=self.stale_after, stale_first=stale_first)

    def _wait_for_more(self, until: float, watch: DrainWatch | None) -> bool:
        """Wait, until `until` (monotonic), for something to claim: True once there is."""
        while time.monotonic() < until and not (self.stop_lingering and self.stop_lingering()):
            time.sleep(LINGER_POLL_S)
            if watch is not None:
                watch.keep()
            if self._claimable():
                return True
        return False

    def _claimable(self) -> bool:
        """Whether a message waits to be claimed (a read: on SQLite a claim takes the write lock)."""
        found = db.session.scalar(_CLAIMABLE, {"stale_before": utcnow() - self.stale_after})
        db.session.commit()  # no transaction (and no snapshot) held while waiting
        return found is not None


# A drain commits its classifications together, at most this many or this old (seconds): one
# commit (and one fsync) and one folder-entries refresh per conversation for a group, and
# another writer's wait on a lock stays short.
# SQLite locks the whole database for a writing transaction (the listener waits), PostgreSQL
# only the rows written: its groups may last longer.
GROUP_SIZE = 25
# Raw mail a group parses before its first write, at most (the first message whatever its
# size): what is held parsed at once stays small beside the memory bound (4x the largest).
PARSE_AHEAD_BYTES = 1024 * 1024
GROUP_AGE_S = {"sqlite": 0.05, "postgresql": 0.25}


class _Group:
    """Classifications in one open transaction, committed together (group commit).

    Any failure in the group (a message that raises or runs out of time, one filed meanwhile
    by someone else, a commit refused) rolls the group back and classifies its messages one
    by one, each committed alone and quarantined alone if it fails: the usual path.
    """

    def __init__(self, settings: MailDomain, store: BlobStore, time_limit: float | None, done: Drained):
        self.settings, self.store, self.time_limit, self.done = settings, store, time_limit, done
        self.stored: dict[int, Row] = {}
        self._start_over()
        self.started = 0.0
        self.max_age = GROUP_AGE_S.get(db.engine.dialect.name, 0.05)
        self.ahead: dict[int, ParsedAhead] = {}  # parsed before the group's first write

    def parse_ahead(self, message_ids: list[int]) -> None:
        """Parse the next messages before the group writes anything (a third of its time).

        On SQLite a group holds the one write lock from its first write to its commit, and the
        listener waits for it to store each batch: what is parsed here is parsed outside it.
        At most PARSE_AHEAD_BYTES of raw mail (the first message whatever its size), each
        within the time limit; a failure stops there and is the message's own, as if it had
        happened while classifying it.
        """
        statement = _GROUP_STORED.get(db.engine.dialect.name, _GROUP_STORED["sqlite"])
        rows = sorted(db.session.execute(statement, {"ids": message_ids[:GROUP_SIZE]}), key=lambda r: r.id)
        self.stored = {row.id: row for row in rows}
        wanted = [row for row in rows if row.id not in self.ahead]
        self._parse(wanted)
        self._look_up([row for row in wanted if row.id in self.ahead])

    def _look_up(self, rows) -> None:
        """Ask what decide would ask of each message parsed ahead (its stored row given), for all
        of them at once."""
        parsed = [(self.ahead[row.id].parsed, row.envelope_to) for row in rows]
        mails = [(mail, envelope_to) for mail, envelope_to in parsed if mail is not None]
        if not mails:
            return
        known = look_up_group(mails, self.settings)
        for row in rows:
            self.ahead[row.id].known = known

    def _parse(self, rows) -> None:
        """parse_ahead's parsing, up to PARSE_AHEAD_BYTES (the first message whatever its size)."""
        total = 0
        for row in rows:
            size = row.raw_size or 0
            if total and total + size > PARSE_AHEAD_BYTES:
                return
            total += size
            started = time.monotonic()
            try:
                with _time_bound(self.time_limit):
                    parsed, head = _parse_stored(row.raw_sha256, self.store, DEFAULT_LIMITS.header_bytes)
            except (Exception, ClassifyTimeout) as exc:
                seconds = time.monotonic() - started
                self.ahead[row.id] = ParsedAhead(seconds, DEFAULT_LIMITS.header_bytes, error=exc)
                return
            seconds = time.monotonic() - started
            self.ahead[row.id] = ParsedAhead(seconds, DEFAULT_LIMITS.header_bytes, parsed, head)

    def add(self, message_id: int) -> None:
        if not self.ids:
            self.started = time.monotonic()
        self.ids.append(message_id)
        try:
            with entries.deferred(self.conversations), deferred_writes(self.deferred):
                outcome = classify_stored(
                    message_id,
                    settings=self.settings,
                    store=self.store,
                    time_limit=self.time_limit,
                    commit=False,
                    ahead=self.ahead.get(message_id),
                    stored=self.stored.get(message_id),
                )
        except (Exception, ClassifyTimeout) as exc:
            log.info(
                "classifying message %s in a group failed (%s): one by one", message_id, type(exc).__name__
            )
            self._one_by_one()
            return
        self.outcomes.append(outcome)
        # Later messages must read what this one wrote through Core, not stale loaded objects.
        db.session.expire_all()
        if len(self.ids) >= GROUP_SIZE or time.monotonic() - self.started >= self.max_age:
            self.commit()

    def commit(self) -> None:
        if not self.ids:
            return
        try:
            write_deferred(self.deferred)
            entries.refresh(self.conversations)
            db.session.commit()
        except Exception:
            log.warning(
                "committing a group of %d classifications failed: one by one", len(self.ids), exc_info=True
            )
            self._one_by_one()
            return
        self.done.outcomes.update(o for o in self.outcomes if o is not None)
        for message_id in self.ids:
            self.ahead.pop(message_id, None)
        self._start_over()

    def _start_over(self) -> None:
        """An empty group: nothing classified, nothing noted for the commit."""
        self.ids: list[int] = []
        self.outcomes: list[str | None] = []
        self.conversations: set[int] = set()  # their folder entries, computed once at the commit
        self.deferred = Deferred()  # recipients, holds, addresses working again...: at the commit
        # The next messages' rows, read (and on PostgreSQL locked) in the open transaction: read
        # again after a commit or a rollback, which lets their locks go.
        self.stored = {}

    def _one_by_one(self) -> None:
        db.session.rollback()
        ids = self.ids
        self._start_over()
        for message_id in ids:
            # Parsed again (classifying may have touched what was parsed), unless parsing failed.
            ahead = self.ahead.pop(message_id, None)
            outcome = classify_stored(
                message_id,
                settings=self.settings,
                store=self.store,
                time_limit=self.time_limit,
                ahead=ahead if ahead is not None and ahead.error is not None else None,
            )
            if outcome is not None:
                self.done.outcomes[outcome] += 1


def _unclassified():
    # The direction as a literal, as in the partial index ix_messages_unclassified: a bound
    # parameter would keep the planners from using it (every claim read all the sent mail).
    inbound: ColumnElement[str] = literal_column(f"'{Direction.INBOUND.value}'")
    return (_messages.c.outcome.is_(None), _messages.c.direction == inbound)


# The claims' statements, built once: building and keying them anew cost 0.4 to 0.5 ms each,
# three a claim, and a drain fed a few messages at a time claims every few messages.
_UNCLAIMED = _messages.c.classify_claimed_at.is_(None)
_STALE = _messages.c.classify_claimed_at < bindparam("stale_before", type_=UTCDateTime())
# In the order of the partial index ix_messages_unclassified (direction, classify_claimed_at, id):
# only that index gives it without a sort, so the planners use it. Half of a real mailbox is
# sent mail, whose outcome is NULL too, and PostgreSQL takes a quarter of the table for
# unclassified mail: otherwise it walked the primary key or read the whole table, 70 to 105 ms
# a claim or a look at 100,000 messages, 0.4 to 1.3 s a count at a million, nothing found.
_IN_INDEX_ORDER = (_messages.c.direction, _messages.c.classify_claimed_at, _messages.c.id)


def _in_index_order(*conditions: ColumnElement[bool]):
    """The ids of unclassified inbound messages that meet `conditions`, in the index's order."""
    return select(_messages.c.id).where(*_unclassified(), *conditions).order_by(*_IN_INDEX_ORDER)


# Whether anything is left to claim: the first unclaimed message, else the first stale one.
_CLAIMABLE = select(
    func.coalesce(
        _in_index_order(_UNCLAIMED).limit(1).scalar_subquery(),
        _in_index_order(_STALE).limit(1).scalar_subquery(),
    )
)
_SPENT = select(_messages.c.id).where(
    *_unclassified(), _STALE, _messages.c.classify_requeues >= bindparam("max_requeues")
)


def _claim_statement(and_claim: ColumnElement[bool], *, requeue: bool):
    """UPDATE ... RETURNING: claim the oldest `limit` unclassified messages that match `and_claim`."""
    oldest = (
        _in_index_order(and_claim)  # unclaimed: oldest first; stale: the longest lost first
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)  # ignored by SQLite, which has no row locks
        .cte("oldest")  # run once (see delivery.claim_batch)
    )
    values: dict = {"classify_claimed_at": bindparam("now", type_=UTCDateTime())}
    if requeue:
        values["classify_requeues"] = _messages.c.classify_requeues + 1
    return (
        update(_messages)
        .where(_messages.c.id.in_(select(oldest.c.id)), *_unclassified(), and_claim)
        .values(**values)
        .returning(_messages.c.id)
    )


_CLAIM_STALE = _claim_statement(_STALE, requeue=True)
_CLAIM_UNCLAIMED = _claim_statement(_UNCLAIMED, requeue=False)


def claim_unclassified(
    limit: int, *, stale_after: timedelta = CLAIM_STALE_AFTER, stale_first: bool = True
) -> list[int]:
    """Claim what to classify next, oldest first: ids, [] when nothing is left. Commits.

    A message whose claim went stale (its worker died while classifying it) comes alone and
    counts a requeue; one out of tries is quarantined instead. That way a message that kills
    its worker takes no other message down with it. Otherwise: up to `limit` unclaimed ones.
    One statement each, atomic: two drains never claim the same message (SKIP LOCKED on
    PostgreSQL lets them take different ones instead of waiting). stale_first=False: stale
    claims only when nothing unclaimed is left (a drain puts them first now and then, not at
    every claim: two statements each time).
    """
    now = utcnow()

    def stale() -> list[int]:
        give_up_on_spent(stale_after=stale_after, now=now)
        return _claim(_CLAIM_STALE, {"stale_before": now - stale_after, "limit": 1, "now": now})

    claimed = stale() if stale_first else []
    if not claimed:
        claimed = _claim(_CLAIM_UNCLAIMED, {"limit": limit, "now": now})
    if not claimed and not stale_first:
        claimed = stale()
    db.session.commit()
    return claimed


def _claim(statement, params: dict) -> list[int]:
    return sorted(db.session.execute(statement, params).scalars())


def release_claims(message_ids: list[int]) -> None:
    """Give back claimed messages this drain will not classify (its budget is spent). Commits."""
    if message_ids:
        db.session.execute(
            update(_messages)
            .where(_messages.c.id.in_(message_ids), _messages.c.outcome.is_(None))
            .values(classify_claimed_at=None)
        )
    db.session.commit()


def give_up_on_spent(*, stale_after: timedelta = CLAIM_STALE_AFTER, now: datetime | None = None) -> list[int]:
    """Quarantine messages whose classification was lost again after MAX_REQUEUES tries (flushes)."""
    now = now or utcnow()
    params = {"stale_before": now - stale_after, "max_requeues": MAX_REQUEUES}
    spent = list(db.session.scalars(_SPENT, params))
    problem = f"classification never finished: its worker stopped each time ({MAX_REQUEUES + 1} tries)"
    for message_id in spent:
        file_quarantine(message_id, None, [problem], now)
    if spent:
        log.warning("gave up classifying messages %s: quarantined", spent)
    return spent


def _waiting(and_claim: ColumnElement[bool]):
    stored_before = _messages.c.created_at < bindparam("stored_before", type_=UTCDateTime())
    first = _in_index_order(and_claim, stored_before).limit(bindparam("at_most")).subquery()
    return select(func.count()).select_from(first).scalar_subquery()


# Unclaimed plus stale, each counted up to a bound, in the index's order (see _IN_INDEX_ORDER).
_WAITING = select(_waiting(_UNCLAIMED) + _waiting(_STALE))
# Waiting messages counted, at most, of each kind: what the callers need to know is whether a
# backlog is there, and roughly how large.
WAITING_COUNTED_UP_TO = 1000


def unclassified_waiting(min_age: timedelta, *, stale_after: timedelta = CLAIM_STALE_AFTER) -> int:
    """How many stored messages older than `min_age` no live drain holds (unclaimed, or stale).

    Up to WAITING_COUNTED_UP_TO of each: a count of the whole backlog would read all of it.
    """
    now = utcnow()
    params = {"stored_before": now - min_age, "stale_before": now - stale_after}
    return db.session.scalar(_WAITING, params | {"at_most": WAITING_COUNTED_UP_TO}) or 0


def unclassified_ids(min_age: timedelta = timedelta(seconds=30), limit: int = 1000) -> list[int]:
    """Stored messages nobody classified (Redis was down, a worker died): never claimed first,
    oldest first (the index's order: by id alone, PostgreSQL walked the primary key, 0.7 s at
    a million messages)."""
    stored_before = _messages.c.created_at < utcnow() - min_age
    return list(db.session.scalars(_in_index_order(stored_before).limit(limit)))
