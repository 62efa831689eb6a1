"""Deliver stored outbound messages exactly once.

The database row is the truth. Every state change is a compare-and-set UPDATE, so two
workers, a retried job, or a cancel racing a send can never deliver one message twice:
    queued|scheduled --claim--> sending --> sent | failed | queued (temporary error, later)
    sending for too long --> unknown (a worker died after handing it over: a person decides)

A worker drains what is due over one SMTP connection: it claims a batch of the oldest due
messages (commit), marks each in Redis as not yet handed over, takes the mark just before
handing a message over, and records the outcomes together, about once a second (commit). A
worker that dies leaves its untouched messages marked, and the reconciler gives those back:
only messages that may have left end "unknown" (the one with the server, and those sent in
the second before, whose outcomes were not committed yet), plus, if it dies in the instant
between a claim's commit and its marks, that batch.

Statements here are Core, not ORM: loading a Message with its relationships cost more than
sending it (a drain sends a message in about a millisecond).
"""

import contextlib
import hashlib
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.policy import SMTP as SMTP_POLICY
from enum import StrEnum

from redis.exceptions import RedisError
from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update

from webapp.extensions import db
from webapp.mail.addresses import bounce_address, reply_address
from webapp.mail.domain import MailDomain
from webapp.mail.idn import needs_smtputf8
from webapp.mail.msgids import valid_ids
from webapp.mail.outbound.build import Draft, OutgoingFile, build
from webapp.mail.outbound.transport import PermanentError, TemporaryError, UnknownOutcome
from webapp.mail.outbound.wire import to_bytes
from webapp.mail.read import entries
from webapp.mail.storage import BlobStore
from webapp.models import Attachment, Direction, Message, SentCopy, Status, Thread
from webapp.models.core import table_of
from webapp.models.types import utcnow

# Temporary SMTP errors: try again after these delays, then give up.
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))
SENDING_TIMEOUT = timedelta(minutes=10)
# A claimed message still marked "not handed over" this long after its claim is given back.
# Longer than a drain's budget (jobs/send.py, 20 s), so a live drain rarely loses one; and safe
# even then: the hand-over mark goes to one taker only (HandOverMarks). With the reconciler
# every PERIODIC_INTERVAL (20 s), mail a crashed worker claimed leaves within a minute.
RELEASE_AFTER = timedelta(seconds=30)


@dataclass
class Outgoing:
    """What building a message needs, read with one query (plus one for attachments)."""

    id: int
    thread_id: int | None
    message_id: str
    in_reply_to: str | None
    references: str | None
    from_address: str
    from_name: str
    to_addresses: list[str]
    cc_addresses: list[str]
    bcc_addresses: list[str]
    subject: str
    body_text: str
    send_attempts: int
    send_started_at: datetime  # this claim's time (only claimed messages load): tells it from a later one
    attachments: list = field(default_factory=list)  # rows with filename, content_type, sha256
    has_attachments: bool = False
    body_html: str | None = None  # the HTML part, when the sender's formatted signature is in it


_OUTGOING_COLUMNS = [
    getattr(Message, name) for name in Outgoing.__dataclass_fields__ if name != "attachments"
]


def load_outgoing(message_ids: list[int]) -> list[Outgoing]:
    """The messages as `build_raw` needs them, in id order, without the ORM's relationship loading."""
    rows = db.session.execute(
        select(*_OUTGOING_COLUMNS).where(Message.id.in_(message_ids)).order_by(Message.id)
    ).all()
    found = [Outgoing(**row._asdict()) for row in rows]
    for out in found:
        out.to_addresses, out.cc_addresses = out.to_addresses or [], out.cc_addresses or []
        out.bcc_addresses = out.bcc_addresses or []
    with_files = {out.id: out for out in found if out.has_attachments}
    if with_files:
        for row in db.session.execute(
            select(Attachment.message_id, Attachment.filename, Attachment.content_type, Attachment.sha256)
            .where(Attachment.message_id.in_(list(with_files)))
            .order_by(Attachment.id)
        ):
            with_files[row.message_id].attachments.append(row)
    return found


def build_raw(msg, mail_domain: MailDomain, store: BlobStore) -> tuple[bytes, str, list[str]]:
    """(bytes as sent, envelope sender, envelope recipients) for a Message or an Outgoing.

    Bcc is only in the envelope.
    """
    draft = Draft(
        from_name=msg.from_name,
        from_address=msg.from_address,
        to=[("", a) for a in msg.to_addresses],
        cc=[("", a) for a in msg.cc_addresses],
        subject=msg.subject,
        text=msg.body_text,
        html=msg.body_html,
        reply_to=reply_address(msg.thread_id, mail_domain.domain, mail_domain.secret),
        # Rows stored before identifiers were kept raw may hold a decoded one: only valid ids go out.
        in_reply_to=" ".join(valid_ids(msg.in_reply_to)[:1]) or None,
        references=" ".join(valid_ids(msg.references)) or None,
        attachments=[OutgoingFile(a.filename, a.content_type, store.get(a.sha256)) for a in msg.attachments],
    )
    # CRLF line ends, as SMTP requires (smtplib sends bytes as they are). The plain case is
    # written directly (wire.py); the stdlib builds the rest.
    now = utcnow()
    recipients = list(dict.fromkeys(msg.to_addresses + msg.cc_addresses + msg.bcc_addresses))
    # A non-ASCII local part travels as UTF-8 headers, with SMTPUTF8 (transport.py).
    policy = SMTP_POLICY.clone(utf8=True) if any(map(needs_smtputf8, recipients)) else SMTP_POLICY
    raw = to_bytes(draft, msg.message_id, now) or build(draft, msg.message_id, now).as_bytes(policy=policy)
    return raw, bounce_address(msg.id, mail_domain.domain, mail_domain.secret), recipients


def _due(now: datetime):
    """Rows a worker may claim now (the status IN lets the database use its status index)."""
    return and_(
        Message.status.in_((Status.QUEUED, Status.SCHEDULED)),
        or_(
            and_(
                Message.status == Status.QUEUED,
                or_(Message.scheduled_at.is_(None), Message.scheduled_at <= now),
            ),
            # Held mail (the candidate replied since) waits for its author to confirm it.
            and_(Message.status == Status.SCHEDULED, Message.scheduled_at <= now, Message.held_at.is_(None)),
        ),
    )


def _claiming(now: datetime):
    """The values a claim sets (one more attempt, started now)."""
    return dict(status=Status.SENDING, send_started_at=now, send_attempts=Message.send_attempts + 1)


def claim_batch(limit: int) -> list[int]:
    """Claim up to `limit` of the oldest due messages, whichever they are; [] when none is due. Commits.

    One statement, so it is atomic: SQLite holds its write lock for it, and on PostgreSQL
    SKIP LOCKED lets two workers take different messages instead of queueing on the same rows.
    """
    now = utcnow()
    oldest = (
        select(Message.id)
        .where(Message.direction == Direction.OUTBOUND, _due(now))
        .order_by(Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # ignored by SQLite, which has no row locks
        # A CTE, run once: as a plain IN (subquery), PostgreSQL ran the subquery again while
        # updating and claimed every due row, whatever the limit.
        .cte("oldest")
    )
    claimed = db.session.execute(
        update(Message)
        .where(Message.id.in_(select(oldest.c.id)), _due(now))
        .values(**_claiming(now))
        .returning(Message.id, Message.thread_id)
    ).all()
    entries.refresh(thread_id for _, thread_id in claimed)  # a scheduled one moves to Sent
    db.session.commit()
    return sorted(message_id for message_id, _ in claimed)


class HandOverMarks:
    """Redis marks on claimed messages not yet handed to the mail server.

    A drain claims a batch, marks each message, and takes the mark (DEL) just before handing
    that message over. The reconciler takes the marks a dead worker left and gives those
    messages back. DEL answers 1 to one caller only, so a message is either handed over by
    its worker or given back, never both. No mark left (the hand-over began, or Redis lost
    it) means the outcome is unknown, and a person decides: never a blind second send.
    """

    TTL_S = 86400

    def __init__(self, redis, prefix: str):
        self.redis, self.prefix = redis, prefix

    def _key(self, message_id: int, claimed_at: datetime) -> str:
        # One key per claim, not per message: a stalled worker's late DEL can never take the
        # mark of a later claim of the same message by another worker.
        stamp = int(claimed_at.replace(tzinfo=claimed_at.tzinfo or UTC).timestamp() * 1_000_000)
        return f"hiremail:{self.prefix}unsent-{message_id}-{stamp}"

    def set(self, claims: list[tuple[int, datetime]]) -> None:
        """Mark claimed messages (id, claim time) as not handed over yet (one round trip)."""
        pipe = self.redis.pipeline(transaction=False)
        for message_id, claimed_at in claims:
            pipe.set(self._key(message_id, claimed_at), 1, ex=self.TTL_S)
        pipe.execute()

    def take(self, message_id: int, claimed_at: datetime) -> bool:
        """True for the one caller that may now decide the fate of this claim of the message."""
        return self.redis.delete(self._key(message_id, claimed_at)) == 1

    def begin_take(self, message_id: int, claimed_at: datetime) -> Callable[[], bool]:
        """Send the DEL now and read its answer later (call the result once).

        A worker sends it before talking to the SMTP server and reads it just before DATA:
        the Redis round trip overlaps the MAIL and RCPT ones instead of adding to them.
        """
        pool = self.redis.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_command("DEL", self._key(message_id, claimed_at))
        except BaseException:
            pool.release(conn)
            raise

        def answer() -> bool:
            try:
                return conn.read_response() == 1
            except BaseException:
                conn.disconnect()  # an unread answer must never reach the next command
                raise
            finally:
                pool.release(conn)

        return answer


class Ending(StrEnum):
    """How one claimed message's send ended; the first three are also its new status."""

    SENT = Status.SENT.value
    FAILED = Status.FAILED.value
    UNKNOWN = Status.UNKNOWN.value
    RETRY = "retry"  # a temporary error: queued again, due after the backoff delay
    RELEASED = "released"  # claimed, never handed over: back in the queue as it was


@dataclass
class Outcome:
    message_id: int
    status: Ending
    error: str | None = None
    raw: bytes = b""  # what was sent, to keep (empty: nothing left)
    retry_at: datetime | None = None
    thread_id: int | None = None
    stop: str | None = None  # why nothing more can be sent for now (no server, no Redis)
    claimed_at: datetime | None = None  # the claim this outcome belongs to (None: any)


NO_REDIS = "Redis could not be reached"
WORKER_STOPPED = (
    "The worker stopped while handing this message to the mail server. "
    "Check with the recipient, then mark it as sent or send it again."
)
# What a Redis call may raise when the server is unreachable or answers oddly; narrower than
# Exception, so that a job's timeout is never mistaken for one.
REDIS_ERRORS = (RedisError, OSError)
UNKNOWN_AFTER_DATA = (
    "The connection to the mail server broke after the message was sent, before the server confirmed it. "
    "Check with the recipient, then mark it as sent or send it again."
)


class _Outcomes:
    """A drain's outcomes in the order they happened, committed together about once a second."""

    EVERY_S = 1.0

    def __init__(self):
        self.all: list[Outcome] = []
        self.recorded = 0
        self.last_commit = time.monotonic()

    def add(self, outcome: Outcome | None) -> None:
        if outcome is not None:
            self.all.append(outcome)

    @property
    def stopped(self) -> bool:
        """Whether the last outcome says nothing more can be sent for now."""
        return bool(self.all and self.all[-1].stop)

    def commit_if_due(self) -> None:
        if time.monotonic() - self.last_commit >= self.EVERY_S:
            self.commit()

    def commit(self) -> None:
        """Record the outcomes not recorded yet. Commits."""
        _record(self.all[self.recorded :])
        self.recorded, self.last_commit = len(self.all), time.monotonic()


def send_claimed(
    message_ids: list[int],
    transport,
    mail_domain: MailDomain,
    store: BlobStore,
    marks: HandOverMarks | None = None,
    deadline: float | None = None,
) -> list[Outcome]:
    """Hand over messages this worker claimed, in order, recording each outcome. Commits.

    Stops early, giving back what it has not handed over, when the
    server cannot be reached or at `deadline` (time.monotonic()). Outcomes are committed
    together about every second: a dead worker's sent messages are then "sending" without a
    mark, hence "unknown".
    """
    todo = deque(load_outgoing(message_ids))
    if marks is not None and not _marked(marks, todo):
        return _give_back_unmarked(todo)
    outcomes = _Outcomes()
    try:
        while todo and not outcomes.stopped and not _past(deadline):
            outcomes.add(_send_one(todo.popleft(), transport, mail_domain, store, marks))
            outcomes.commit_if_due()
    finally:
        _give_back_the_rest(todo, outcomes, marks)
    return outcomes.all


def _past(deadline: float | None) -> bool:
    return deadline is not None and time.monotonic() >= deadline


def _marked(marks: HandOverMarks, todo) -> bool:
    """Mark the claimed messages as not handed over yet; False if Redis could not be reached."""
    try:
        marks.set([(msg.id, msg.send_started_at) for msg in todo])
    except REDIS_ERRORS:
        return False
    return True


def _give_back_unmarked(todo) -> list[Outcome]:
    """No Redis: nothing was handed over, so all of it goes back. Commits."""
    outcomes = [Outcome(m.id, Ending.RELEASED, stop=NO_REDIS, claimed_at=m.send_started_at) for m in todo]
    _record(outcomes)
    return outcomes


def _send_one(msg: Outgoing, transport, mail_domain: MailDomain, store: BlobStore, marks) -> Outcome | None:
    """Build and hand over one message: what happened, or None if it is not ours to send any more."""
    built = _build(msg, mail_domain, store)
    outcome = built if isinstance(built, Outcome) else _hand_over(msg, built, transport, marks)
    if outcome is not None:
        outcome.claimed_at = msg.send_started_at  # what it is an outcome of
    return outcome


def _give_back_the_rest(todo, outcomes: _Outcomes, marks: HandOverMarks | None) -> None:
    """Give back what was never handed over and record what is not recorded yet. Commits.

    Whatever stopped the drain (no server, the budget, Redis, the job's timeout, a failed
    write), each message given back has its mark taken, so that the reconciler leaves it alone.
    """
    db.session.rollback()  # a write that failed must not take this last one with it
    released = [m for m in todo if marks is None or _took(marks, m.id, m.send_started_at)]
    outcomes.all.extend(Outcome(m.id, Ending.RELEASED, claimed_at=m.send_started_at) for m in released)
    try:
        outcomes.commit()
    except Exception:
        db.session.rollback()
        if marks is not None and released:  # marked again, the reconciler can give them back
            with contextlib.suppress(*REDIS_ERRORS):
                marks.set([(m.id, m.send_started_at) for m in released])
        raise


def _took(marks: HandOverMarks, message_id: int, claimed_at: datetime) -> bool:
    """Take a mark, False when Redis cannot say (then the message is not ours to give back)."""
    try:
        return marks.take(message_id, claimed_at)
    except REDIS_ERRORS:  # Redis is gone: the reconciler decides later (unknown, never resent)
        return False


def _build(msg: Outgoing, mail_domain: MailDomain, store: BlobStore):
    """(bytes, envelope sender, recipients), or the failed Outcome when it cannot be built."""
    try:
        return build_raw(msg, mail_domain, store)
    except (OSError, ValueError, TypeError, LookupError) as exc:  # a missing attachment file, say
        return Outcome(msg.id, Ending.FAILED, error=f"The message could not be built: {exc}"[:2000])


class _Ours:
    """Whether this claim's mark was ours to take: asked once, right before the message itself goes out."""

    def __init__(self, answer: Callable[[], bool] | None):
        self.answer = answer  # None: no marks, so it is always ours
        self.asked = False
        self.verdict: bool | None = None  # False: someone else took it; None: Redis did not say

    def __call__(self) -> bool:
        if self.answer is None:
            return True
        if not self.asked:
            self.asked = True
            try:
                self.verdict = self.answer()
            except REDIS_ERRORS:  # no answer: as if not ours, so it is not sent
                self.verdict = None
        return self.verdict is True


def _hand_over(msg: Outgoing, built, transport, marks: HandOverMarks | None) -> Outcome | None:
    """Send one built message; what happened, or None if it is not ours to send any more."""
    raw, envelope_from, recipients = built
    try:
        ours = _Ours(marks.begin_take(msg.id, msg.send_started_at) if marks is not None else None)
    except REDIS_ERRORS:
        return Outcome(msg.id, Ending.RELEASED, stop=NO_REDIS)
    try:
        reply = transport.send(envelope_from, recipients, raw, before_data=ours)
    except UnknownOutcome as exc:
        return Outcome(msg.id, Ending.UNKNOWN, error=UNKNOWN_AFTER_DATA + f" ({exc})"[:1500], raw=raw)
    except (TemporaryError, PermanentError) as exc:
        return _refused(msg, exc) if ours() else _not_handed_over(msg, ours)
    if reply is None:  # stopped before DATA: the message never left
        return _not_handed_over(msg, ours)
    return Outcome(msg.id, Ending.SENT, raw=raw, thread_id=msg.thread_id)  # it has left


def _not_handed_over(msg: Outgoing, ours: _Ours) -> Outcome | None:
    """The mark was not ours (the reconciler gave it back: nothing to record), or Redis failed."""
    if ours.verdict is False:
        return None
    # Redis did not answer: whoever holds the message, this claim gives it back unsent.
    return Outcome(msg.id, Ending.RELEASED, stop=NO_REDIS)


def _refused(msg: Outgoing, exc: TemporaryError | PermanentError) -> Outcome:
    """The outcome of a send the server or the network refused."""
    if isinstance(exc, PermanentError):
        return Outcome(msg.id, Ending.FAILED, error=str(exc)[:2000])
    outcome = _temporary(msg, str(exc))
    if exc.connection_failed:
        # No server: every other message would fail the same way and spend an attempt.
        outcome.stop = "the mail server could not be reached"
    return outcome


def _temporary(msg: Outgoing, reason: str) -> Outcome:
    """A retry after the next backoff delay, or a failure once the delays are used up."""
    attempt = msg.send_attempts  # read after the claim, which counted this attempt
    if attempt > len(RETRY_DELAYS):
        return Outcome(msg.id, Ending.FAILED, error=f"Gave up after {attempt} attempts: {reason}"[:2000])
    return Outcome(
        msg.id,
        Ending.RETRY,
        error=f"Temporary failure, retrying: {reason}"[:2000],
        retry_at=utcnow() + RETRY_DELAYS[attempt - 1],
    )


# Core tables: an executemany UPDATE through the ORM entity takes its bulk-by-primary-key path,
# which allows no extra WHERE (and the "only if still sending" guard is the point).
_messages = table_of(Message)
_threads = table_of(Thread)
_copies = table_of(SentCopy)
# Only the claim an outcome belongs to: a message given back and claimed again since is
# someone else's now.
_STILL_OUR_CLAIM = and_(
    _messages.c.id == bindparam("mid"),
    _messages.c.status == Status.SENDING,
    _messages.c.send_started_at == bindparam("claimed_at"),
)


def _record(outcomes: list[Outcome]) -> None:
    """Commit outcomes, a statement per kind for all of them (only rows still "sending")."""
    if not outcomes:
        return
    by_status: dict[Ending, list[Outcome]] = {}
    for outcome in outcomes:
        by_status.setdefault(outcome.status, []).append(outcome)
    for status, write in _WRITERS.items():
        if status in by_status:
            write(by_status[status])
    # Only a send that ended moves a conversation: a retry, a message given back or an unknown
    # outcome stay in the sender's Sent, as "sending" was.
    ended = [o.message_id for o in outcomes if o.status in (Ending.SENT, Ending.FAILED)]
    if ended:
        threads = select(Message.thread_id).where(Message.id.in_(ended)).distinct()
        entries.refresh(db.session.scalars(threads))
    db.session.commit()


def _of_claim(outcome: Outcome, **values) -> dict:
    """The parameters of one row's UPDATE: which claim, and what to set."""
    return {"mid": outcome.message_id, "claimed_at": outcome.claimed_at, **values}


def _write_sent(sent: list[Outcome]) -> None:
    """Sent: the row, a copy of the bytes that left, and the threads' last activity."""
    now = utcnow()
    db.session.execute(
        update(_messages)
        .where(_STILL_OUR_CLAIM)
        .values(
            status=Status.SENT,
            error=None,
            sent_at=now,
            sort_at=now,
            delivery_state=None,
            raw_sha256=bindparam("sha"),
            raw_size=bindparam("size"),
        ),
        [_of_claim(o, sha=hashlib.sha256(o.raw).hexdigest(), size=len(o.raw)) for o in sent],
    )
    _keep_copies(sent)
    _touch_threads({o.thread_id for o in sent if o.thread_id is not None}, now)


def _keep_copies(sent: list[Outcome]) -> None:
    """Keep a copy of what left, with the same commit."""
    # It replaces the copy of an earlier send that a person had judged lost and sent again.
    db.session.execute(delete(_copies).where(_copies.c.message_id.in_([o.message_id for o in sent])))
    db.session.execute(insert(_copies), [{"message_id": o.message_id, "raw": o.raw} for o in sent])


def _touch_threads(thread_ids: set[int], now: datetime) -> None:
    """Thread.touch in one statement: activity only ever moves forward."""
    db.session.execute(
        update(_threads)
        .where(_threads.c.id.in_(thread_ids))
        .where(or_(_threads.c.last_message_at.is_(None), _threads.c.last_message_at < now))
        .values(last_message_at=now)
    )


def _write_error(status: Status) -> Callable[[list[Outcome]], None]:
    """A writer for an outcome that ends the send with its reason: "unknown" or "failed"."""

    def write(outcomes: list[Outcome]) -> None:
        db.session.execute(
            update(_messages).where(_STILL_OUR_CLAIM).values(status=status, error=bindparam("error")),
            [_of_claim(o, error=o.error) for o in outcomes],
        )

    return write


def _write_retry(retry: list[Outcome]) -> None:
    """Back in the queue with its reason, due again after the backoff delay."""
    db.session.execute(
        update(_messages)
        .where(_STILL_OUR_CLAIM)
        .values(status=Status.QUEUED, error=bindparam("error"), scheduled_at=bindparam("retry_at")),
        [_of_claim(o, error=o.error, retry_at=o.retry_at) for o in retry],
    )


def _write_released(released: list[Outcome]) -> None:
    """Never handed over: back in the queue as it was, this attempt not counted."""
    db.session.execute(
        update(_messages)
        .where(_STILL_OUR_CLAIM)
        .values(status=Status.QUEUED, send_attempts=_messages.c.send_attempts - 1),
        [_of_claim(o) for o in released],
    )


# In the order the statements run.
_WRITERS: dict[Ending, Callable[[list[Outcome]], None]] = {
    Ending.SENT: _write_sent,
    Ending.UNKNOWN: _write_error(Status.UNKNOWN),
    Ending.FAILED: _write_error(Status.FAILED),
    Ending.RETRY: _write_retry,
    Ending.RELEASED: _write_released,
}


@dataclass
class Drained:
    sent: int = 0
    failed: int = 0
    retry_at: list[datetime] = field(default_factory=list)  # when messages that will be retried fall due
    more: bool = False  # stopped with mail perhaps still due (the time budget)
    stopped: str | None = None  # why sending paused (no server, no Redis): the rest waits

    def count(self, outcome: Outcome) -> None:
        """Add one outcome to the tally."""
        if outcome.status == Ending.SENT:
            self.sent += 1
        elif outcome.status == Ending.FAILED:
            self.failed += 1
        elif outcome.status == Ending.RETRY:
            if outcome.retry_at is None:  # _temporary always sets it
                raise ValueError(f"a retry of message {outcome.message_id} without its time")
            self.retry_at.append(outcome.retry_at)
        elif outcome.status == Ending.RELEASED:
            self.more = True
        self.stopped = self.stopped or outcome.stop


def drain(
    transport,
    mail_domain: MailDomain,
    store: BlobStore,
    budget: float,
    marks: HandOverMarks | None = None,
    batch: int = 50,
) -> Drained:
    """Send due messages, oldest first, in claimed batches, until none is due or `budget` s passed."""
    done = Drained()
    deadline = time.monotonic() + budget
    while True:
        if time.monotonic() >= deadline:
            done.more = True
            return done
        message_ids = claim_batch(batch)
        if not message_ids:
            return done
        for outcome in send_claimed(message_ids, transport, mail_domain, store, marks, deadline):
            done.count(outcome)
        if done.stopped:
            return done


def more_due_than(count: int) -> bool:
    """Whether more than `count` messages are due now (stops looking after count + 1)."""
    beyond = (
        select(Message.id)
        .where(Message.direction == Direction.OUTBOUND, _due(utcnow()))
        .offset(count)
        .limit(1)
    )
    return db.session.scalar(beyond) is not None


def next_due(after: datetime, within: timedelta) -> datetime | None:
    """When the next message waiting for its time falls due, if that is soon."""
    return db.session.scalar(
        select(func.min(Message.scheduled_at)).where(
            Message.direction == Direction.OUTBOUND,
            Message.status.in_((Status.QUEUED, Status.SCHEDULED)),
            Message.held_at.is_(None),
            Message.scheduled_at > after,
            Message.scheduled_at <= after + within,
        )
    )


@dataclass
class Reconciled:
    due: list[int]
    unknown: list[int]
    released: list[int] = field(default_factory=list)


def reconcile(
    now: datetime | None = None, grace: timedelta = timedelta(seconds=30), marks: HandOverMarks | None = None
) -> Reconciled:
    """Find messages late to leave (a lost wake-up?), and sends that never finished. Commits.

    A claimed message whose hand-over mark is still there was never handed over (its worker
    died or stalled): it goes back to the queue. Without a mark it may have left: "unknown".
    """
    now = now or utcnow()
    stalled = db.session.execute(
        select(Message.id, Message.send_started_at).where(
            Message.status == Status.SENDING, Message.send_started_at < now - RELEASE_AFTER
        )
    ).all()
    # A mark still there: never handed over, so it goes back. No mark, and stalled for long:
    # it may have left, so a person decides.
    released = {row.id for row in stalled if marks is not None and _took(marks, row.id, row.send_started_at)}
    stuck = [r for r in stalled if r.id not in released and r.send_started_at < now - SENDING_TIMEOUT]
    _record(
        [Outcome(r.id, Ending.RELEASED, claimed_at=r.send_started_at) for r in stalled if r.id in released]
        + [Outcome(r.id, Ending.UNKNOWN, error=WORKER_STOPPED, claimed_at=r.send_started_at) for r in stuck]
    )
    # Late: due for longer than `grace` (queued to go at once: made longer ago than that).
    late = and_(_due(now - grace), or_(Message.scheduled_at.is_not(None), Message.created_at <= now - grace))
    due = list(db.session.scalars(select(Message.id).where(late).order_by(Message.id).limit(5000)))
    db.session.commit()
    return Reconciled(due=due, unknown=[r.id for r in stuck], released=sorted(released))
