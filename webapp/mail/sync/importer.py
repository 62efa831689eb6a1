"""One sync of one connected mailbox: new mail of its incoming and sent folders, by UID.

For each folder: open it read-only, compare UIDVALIDITY with what was stored (a change means
the UIDs were renumbered: read the folder again from the start; the Message-ID check keeps it
from importing anything twice), list the UIDs above the last one synced, then by batches:
fetch the headers, keep the qualifying messages (qualify.py), fetch those bodies only, store
them, and move the folder's last UID forward, all in one transaction. The UID moves with a
compare-and-set, so two syncs of one mailbox (should the lock fail) never import a batch twice.

Incoming mail is stored as if delivered to the user's personal address and classified like
any inbound mail (the caller classifies each batch after its commit, before the Sent folder is
read: the user's replies then find the conversations they answer); mail from the Sent folder
is filed at once as the user's sent mail (sent.py).
"""

import hashlib
import imaplib
import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, case, insert, select, update
from sqlalchemy.exc import IntegrityError

from webapp.extensions import db, unsynced_commits
from webapp.mail.domain import MailDomain
from webapp.mail.inbound.parse import ParsedMail, parse
from webapp.mail.inbound.pipeline import classify_stored_together, unclassified_row
from webapp.mail.read import entries
from webapp.mail.storage import BackgroundWriter, BlobStore
from webapp.mail.sync import imap, shared
from webapp.mail.sync.imap import Fetched
from webapp.mail.sync.qualify import HEADER_FIELDS, SENT_HEADER_FIELDS, Head, heads_worth_reading, qualifying
from webapp.mail.sync.sent import SOURCE, insert_attachments, sent_columns
from webapp.models import Direction, FolderRole, MailboxConnection, MailboxFolder, Message, User
from webapp.models.core import execute_dml, table_of
from webapp.models.types import utcnow

log = logging.getLogger(__name__)
_folders, _messages = table_of(MailboxFolder), table_of(Message)
# Headers of this many messages per FETCH, and one transaction per such batch.
HEADER_BATCH = 1000
# A batch (several header FETCHes, the bodies they qualify) commits once it has run this long,
# and at each folder's end: a commit costs a flush of the blobs and one of the database, while a
# crash loses no more than a batch's work (the UID moves with its rows: that part is read again).
# Short enough not to keep SQLite's write lock from others for long.
COMMIT_EVERY = 0.25
# Bodies fetched together: at most this many messages, and this many bytes (bounded memory).
BODY_BATCH = 50
BODY_BATCH_BYTES = 8 * 1024 * 1024


class SyncConflict(RuntimeError):
    """Another sync of this mailbox moved a folder on meanwhile: this one stops, theirs stands."""


@dataclass
class Report:
    """What one sync did."""

    imported: int = 0  # incoming messages stored (queued for classification)
    sent: int = 0  # messages from the Sent folder filed as the user's sent mail
    seen: int = 0  # messages whose headers were read
    rescanned: list[str] = field(default_factory=list)  # folders whose UIDVALIDITY changed
    unchanged: list[str] = field(default_factory=list)  # folders skipped: same HIGHESTMODSEQ (CONDSTORE)
    more: bool = False  # stopped at the deadline with mail left: the next part goes on


@dataclass
class Context:
    """What a sync needs besides the connection: the services and the caller's hook."""

    store: BlobStore
    domain: MailDomain
    # Called after each commit with the ids of the incoming messages stored (classifies them).
    on_stored: Callable[[list[int]], None]
    header_batch: int = HEADER_BATCH
    commit_every: float = COMMIT_EVERY  # seconds: a batch of header FETCHes commits after this long
    deadline: float | None = None  # time.monotonic() after which a sync stops between batches

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.monotonic() > self.deadline


def sync_folders(conn: imaplib.IMAP4, connection: MailboxConnection, ctx: Context) -> Report:
    """Sync the connection's incoming and sent folders over the open IMAP connection. Commits."""
    report = Report()
    user = db.session.get_one(User, connection.user_id)
    delivered_to = shared.delivered_to(connection, user, ctx.domain.domain)
    folders = [(connection.incoming_folder or "INBOX", FolderRole.INCOMING)]
    # A shared mailbox's Sent folder is nobody's own sent mail: only its incoming mail is read.
    sent_folder = None if connection.shared else connection.sent_folder or imap.find_sent_folder(conn)
    if sent_folder and sent_folder != folders[0][0]:
        folders.append((sent_folder, FolderRole.SENT))
    # First what each folder has to read (so progress can say "of how many"), then read it.
    # Planned last to first: the first one to read is then the one open.
    plans = [p for name, role in reversed(folders) if (p := _plan(conn, connection.id, name, role, report))]
    plans.reverse()
    _start_progress(connection.id, sum(len(p.uids) for p in plans))
    # The IMAP reads run in a thread of their own, one command ahead: the next group's bodies,
    # the next batch's headers or the next folder's first ones come off the socket while this
    # one is stored and committed. One command at a time on the connection: each is asked for
    # once the one before has ended. The blob files are written by another thread, beside the
    # rows (storage.BackgroundWriter).
    # The batches commit without waiting for the disk (unsynced_commits): a power cut may take
    # back the last ones, their rows and the folder's last UID together, and the next sync reads
    # that mail from the server again. Their blobs are made durable before each commit.
    with (
        unsynced_commits(),
        ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"imap-{connection.id}") as reader,
        BackgroundWriter(ctx.store) as writer,
    ):
        reading = Reading(conn, connection.id, user.id, delivered_to, set(), ctx, report, reader, writer)
        opened = reader.submit(reading.open, plans[0]) if plans else None
        for index, plan in enumerate(plans):
            if opened is None:  # cut short by the deadline
                break
            following = plans[index + 1] if index + 1 < len(plans) else None
            opened = _read(reading, plan, opened, following)
    return report


@dataclass
class Plan:
    """What one folder has to read: its new UIDs, and the state they move on from."""

    state_id: int
    name: str
    role: str
    uidvalidity: int
    stored: tuple[int, int]  # (UIDVALIDITY, last UID) as stored: the compare-and-set's old value
    uids: list[int]
    modseq: int | None  # HIGHESTMODSEQ before reading (CONDSTORE), kept once read through


def _start_progress(connection_id: int, count: int) -> None:
    """Record how many messages this sync reads (added to a previous part's, if it goes on). Commits."""
    connections = table_of(MailboxConnection)
    if not count:
        return
    going_on = connections.c.sync_total.is_not(None)
    db.session.execute(
        update(connections)
        .where(connections.c.id == connection_id)
        .values(
            sync_total=case((going_on, connections.c.sync_done), else_=0) + count,
            sync_done=case((going_on, connections.c.sync_done), else_=0),
        )
    )
    db.session.commit()


def _folder_state(connection_id: int, name: str, role: str) -> MailboxFolder:
    """The folder's stored state, created (committed) on first sight."""
    query = select(MailboxFolder).where(
        MailboxFolder.connection_id == connection_id, MailboxFolder.name == name
    )
    state = db.session.scalar(query)
    if state is not None:
        return state
    try:
        state = MailboxFolder(connection_id=connection_id, name=name, role=role, uidvalidity=0, last_uid=0)
        db.session.add(state)
        db.session.commit()
        return state
    except IntegrityError:  # another sync created it first
        db.session.rollback()
        return db.session.scalars(query).one()


def _plan(conn: imaplib.IMAP4, connection_id: int, name: str, role: str, report: Report) -> Plan | None:
    """Open the folder and list its new UIDs; None if there are none (its state moved on, committed)."""
    state = _folder_state(connection_id, name, role)
    state_id, modseq = state.id, None
    if imap.offers(conn, "CONDSTORE"):
        # CONDSTORE: the same HIGHESTMODSEQ as when last read through means nothing changed
        # (no mail added, none removed, no flag moved): the folder is not even opened.
        now = imap.status(conn, name)
        modseq = now.highestmodseq
        if modseq is not None and (state.uidvalidity, state.highestmodseq) == (now.uidvalidity, modseq):
            report.unchanged.append(name)
            return None
    uidvalidity = imap.examine(conn, name)
    stored = (state.uidvalidity, state.last_uid)
    last_uid = stored[1]
    if stored[0] != uidvalidity:
        if stored[0]:
            log.warning("mailbox %s folder %s: UIDVALIDITY changed, reading it again", connection_id, name)
            report.rescanned.append(name)
        last_uid = 0
    plan = Plan(state_id, name, role, uidvalidity, stored, imap.uids_after(conn, last_uid), modseq)
    if not plan.uids:
        _advance(state_id, stored, (uidvalidity, last_uid))
        db.session.commit()
        if modseq is not None:
            db.session.execute(update(_folders).where(_folders.c.id == state_id).values(highestmodseq=modseq))
            db.session.commit()
        return None
    return plan


def _reopen(conn: imaplib.IMAP4, plan: Plan) -> None:
    """Open a planned folder again; should its UIDVALIDITY have changed meanwhile, list it again."""
    uidvalidity = imap.examine(conn, plan.name)
    if uidvalidity != plan.uidvalidity:
        plan.uidvalidity = uidvalidity
        plan.uids = imap.uids_after(conn, 0)


@dataclass
class Reading:
    """What reading a mailbox's folders shares: the connection, the user, the two threads."""

    conn: imaplib.IMAP4
    connection_id: int
    user_id: int
    delivered_to: list[str]
    seen: set[str]  # the Message-IDs taken so far in this sync (both folders)
    ctx: Context
    report: Report
    reader: ThreadPoolExecutor  # the IMAP commands, in order
    writer: BackgroundWriter

    def heads(self, plan: Plan, uids: list[int]) -> list[Fetched]:
        """The header blocks the filter reads of these messages of the open folder (in the reader)."""
        items = _SENT_HEAD_ITEMS if plan.role == FolderRole.SENT else _HEAD_ITEMS
        return imap.fetch(self.conn, uids, items)

    def open(self, plan: Plan) -> list[Fetched]:
        """Open the planned folder (unless it is open) and read its first batch's headers (in the reader)."""
        if imap.open_folder(self.conn) != plan.name:
            _reopen(self.conn, plan)
        return self.heads(plan, plan.uids[: self.ctx.header_batch])


def _read(
    reading: Reading, plan: Plan, opened: Future[list[Fetched]], next_plan: Plan | None
) -> Future[list[Fetched]] | None:
    """Read the planned folder's new mail by batches, each committed with the folder's last UID.

    `opened` gives its first batch's headers. Returns the next folder's, asked for while this
    folder's last batch is stored; None when the deadline cut this folder short.
    """
    ctx, report, reader = reading.ctx, reading.report, reading.reader
    heads = opened.result()  # the folder is open: its UIDs are final (a renumbering was read again)
    chunks = [plan.uids[i : i + ctx.header_batch] for i in range(0, len(plan.uids), ctx.header_batch)]
    next_heads: Future[list[Fetched]] | None = None
    next_folder: Future[list[Fetched]] | None = None
    batch = Batch(plan.stored)

    def ask_ahead(following: list[int] | None) -> None:
        """Once this batch's bodies are asked for: the next batch's headers, or the next folder's."""
        nonlocal next_heads, next_folder
        if following is not None:
            next_heads = reader.submit(reading.heads, plan, following)
        elif next_plan is not None:
            next_folder = reader.submit(reading.open, next_plan)

    for index, chunk in enumerate(chunks):
        if index:
            assert next_heads is not None
            heads = next_heads.result()
            if ctx.out_of_time():
                report.more = True
                break
        following = chunks[index + 1] if index + 1 < len(chunks) else None
        report.seen += len(heads)
        worth_reading, known = heads_worth_reading(heads)
        wanted = qualifying(worth_reading, reading.seen, known)
        if plan.role == FolderRole.SENT:
            _classify_answered(wanted, ctx)
        groups = list(_groups(wanted))
        bodies = reader.submit(_bodies, reading.conn, groups[0]) if groups else None
        if not groups:
            ask_ahead(following)
        for position in range(len(groups)):
            assert bodies is not None
            fetched = bodies.result()
            if position + 1 < len(groups):
                bodies = reader.submit(_bodies, reading.conn, groups[position + 1])
            else:
                ask_ahead(following)
            batch.stored += _store_group(
                fetched, plan.role, reading, delivered_to=reading.delivered_to, sent=batch.sent_threads
            )
        batch.read += len(chunk)
        batch.last = (plan.uidvalidity, max(chunk))
        if following is None:
            # The folder read through: its HIGHESTMODSEQ, taken before reading, commits with
            # the last batch (whatever changed since shows as a newer one next time).
            batch.modseq = plan.modseq
        if following is None or time.monotonic() - batch.started >= ctx.commit_every:
            batch = _commit_batch(reading, plan, batch)
    if batch.read:  # cut short by the deadline
        _commit_batch(reading, plan, batch)
    return None if report.more else next_folder


@dataclass
class Batch:
    """What is read and stored since the last commit, and the folder state it moves from."""

    previous: tuple[int, int]  # (UIDVALIDITY, last UID) as committed
    last: tuple[int, int] | None = None  # as read so far
    read: int = 0  # messages whose headers were read
    stored: list[tuple[int, str, str | None]] = field(default_factory=list)  # (row id, blob, Message-ID)
    sent_threads: list[int] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    modseq: int | None = None  # the folder's HIGHESTMODSEQ to keep, once it is read through (CONDSTORE)


def _commit_batch(reading: Reading, plan: Plan, batch: Batch) -> Batch:
    """Commit a batch: its rows and blobs, the folder's (UIDVALIDITY, last UID) moved, the counts.

    Then hands its incoming mail to classification; the next batch, empty, moves on from here.
    """
    ctx, report = reading.ctx, reading.report
    _keep(batch, reading)
    assert batch.last is not None
    _advance(plan.state_id, batch.previous, batch.last)
    if batch.modseq is not None:
        modseq = update(_folders).where(_folders.c.id == plan.state_id).values(highestmodseq=batch.modseq)
        db.session.execute(modseq)
    db.session.execute(
        update(MailboxConnection)
        .where(MailboxConnection.id == reading.connection_id)
        .values(
            imported_count=MailboxConnection.imported_count + len(batch.stored),
            sync_done=MailboxConnection.sync_done + batch.read,
        )
    )
    db.session.commit()
    if plan.role == FolderRole.INCOMING:
        report.imported += len(batch.stored)
        if batch.stored:
            ctx.on_stored([row_id for row_id, _, _ in batch.stored])
    else:
        report.sent += len(batch.stored)
    return Batch(batch.last)


_HEAD_ITEMS = f"UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({HEADER_FIELDS})]"
_SENT_HEAD_ITEMS = f"UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS ({SENT_HEADER_FIELDS})]"
_UNCLASSIFIED_ANSWERED = (
    select(_messages.c.id)
    .where(
        _messages.c.message_id.in_(bindparam("mids", expanding=True)),
        _messages.c.outcome.is_(None),
        _messages.c.direction == Direction.INBOUND,
    )
    .order_by(_messages.c.id)
)


def _classify_answered(heads: list[Head], ctx: Context) -> None:
    """Classify now the stored mail that these sent messages answer, so they join its conversation.

    Incoming mail is classified by the classify queue's drain, maybe not yet: a reply filed
    before the message it answers would start a conversation of its own. Commits (only rows
    committed earlier are touched: nothing of this batch is stored yet).
    """
    mids = sorted({m for head in heads for m in head.answers})
    ids: list[int] = []
    for start in range(0, len(mids), 500):
        ids += db.session.scalars(_UNCLASSIFIED_ANSWERED, {"mids": mids[start : start + 500]})
    if ids:
        classify_stored_together(sorted(set(ids)), settings=ctx.domain, store=ctx.store)


def _groups(heads: list[Head]) -> Iterator[list[Head]]:
    """`heads` in groups of at most BODY_BATCH messages and BODY_BATCH_BYTES (a bigger one alone)."""
    group: list[Head] = []
    size = 0
    for head in heads:
        if group and (len(group) >= BODY_BATCH or size + head.size > BODY_BATCH_BYTES):
            yield group
            group, size = [], 0
        group.append(head)
        size += head.size
    if group:
        yield group


def _bodies(conn: imaplib.IMAP4, group: list[Head]) -> list[tuple[Head, bytes]]:
    """Each of `group` with its full message (one FETCH), in UID order."""
    by_uid = {h.uid: h for h in group}
    # A message expunged since its headers were read is simply not there any more.
    fetched = sorted(imap.fetch(conn, list(by_uid), "UID BODY.PEEK[]"), key=lambda f: f.uid)
    return [(by_uid[f.uid], f.data) for f in fetched if f.uid in by_uid]


_SHAS_HERE = select(_messages.c.raw_sha256).where(
    _messages.c.raw_sha256.in_(bindparam("shas", expanding=True))
)


def _store_group(
    bodies: list[tuple[Head, bytes]],
    role: str,
    reading: Reading,
    *,
    delivered_to: list[str],
    sent: list[int],
) -> list[tuple[int, str, str | None]]:
    """Store a group of messages (one INSERT, flushed): classified later if incoming, filed now if sent.

    A message whose exact bytes are already here (one with no Message-ID, read again) is skipped.
    The blobs go to the reading's writer; the conversations of mail filed as sent are added to `sent`.
    """
    ctx, user_id = reading.ctx, reading.user_id
    if not bodies:
        return []
    shas = [hashlib.sha256(raw).hexdigest() for _, raw in bodies]
    here = set(db.session.scalars(_SHAS_HERE, {"shas": sorted(set(shas))}))
    envelope_to = delivered_to if role == FolderRole.INCOMING else []
    now = utcnow()
    # The columns every row of the group shares, taken once from the inbound pipeline's row
    # (an ORM object a message cost more than the INSERT itself).
    shared_columns = _columns(unclassified_row("", 0, SOURCE, None, envelope_to, now))
    rows: list[dict] = []
    kept: list[tuple[bytes, Head]] = []
    for (head, raw), sha in zip(bodies, shas, strict=True):
        if sha in here:
            continue
        here.add(sha)
        # The Message-ID is set now, not at classification: the next batch's duplicate check must see it.
        rows.append(shared_columns | {"raw_sha256": sha, "raw_size": len(raw), "message_id": head.message_id})
        kept.append((raw, head))
    if not rows:
        return []
    # Written beside the rows, made durable with the rest of the batch before its commit (_keep).
    with _storing():
        reading.writer.write([raw for raw, _ in kept])
    if role != FolderRole.SENT:
        # One INSERT for the group (ORM objects would be flushed one statement each).
        ids = _insert(rows)
    else:
        ids = _insert_sent(rows, [raw for raw, _ in kept], user_id, ctx, now, sent)
    return [
        (row_id, row["raw_sha256"], head.message_id)
        for row_id, row, (_, head) in zip(ids, rows, kept, strict=True)
    ]


def _insert_sent(
    rows: list[dict], raws: list[bytes], user_id: int, ctx: Context, now: datetime, sent_threads: list[int]
) -> list[int]:
    """Insert a group of the Sent folder's messages already filed as sent mail; their ids.

    A message that cannot be parsed goes in unclassified: the sweep queues it, classification
    quarantines it.
    """
    readable: list[int] = []
    parsed: list[ParsedMail] = []
    for index, raw in enumerate(raws):
        try:
            parsed.append(parse(raw))
            readable.append(index)
        except Exception:
            log.warning("a message of the Sent folder could not be parsed", exc_info=True)
    values, attachments = sent_columns(parsed, user_id, ctx.store, now)
    filed = [rows[i] | v for i, v in zip(readable, values, strict=True)]
    sent_threads += [v["thread_id"] for v in values]
    ids: list[int | None] = [None] * len(rows)
    if filed:  # one INSERT for the filed ones, one for the others (each INSERT's rows share their keys)
        for index, row_id in zip(readable, _insert(filed), strict=True):
            ids[index] = row_id
        insert_attachments([ids[i] for i in readable], attachments)  # type: ignore[misc]
    parsed_ones = set(readable)
    others = [i for i in range(len(rows)) if i not in parsed_ones]
    if others:
        for index, row_id in zip(others, _insert([rows[i] for i in others]), strict=True):
            ids[index] = row_id
    return ids  # type: ignore[return-value]


# Each id comes back with its row's blob hash, and is matched by it: asked in the rows' order
# (sort_by_parameter_order), SQLAlchemy sends SQLite one INSERT a row.
_INSERT = insert(_messages).returning(_messages.c.id, _messages.c.raw_sha256)


def _insert(rows: list[dict]) -> list[int]:
    """Insert a group's rows (one statement; their raw_sha256 differ: duplicates were skipped); their ids."""
    ids = {sha: row_id for row_id, sha in db.session.execute(_INSERT, rows)}
    return [ids[row["raw_sha256"]] for row in rows]


def _columns(row: Message) -> dict:
    """The column values set on a new, unsaved row (the table's defaults fill in the rest)."""
    return {c.key: getattr(row, c.key) for c in _messages.columns if c.key in row.__dict__}


def _keep(batch: Batch, reading: Reading) -> None:
    """What a batch needs before its commit: its blobs written and on disk, Sent entries refreshed."""
    with _storing():
        reading.writer.wait()
        if batch.stored:
            reading.ctx.store.make_durable([sha for _, sha, _ in batch.stored])
    if batch.sent_threads:
        entries.refresh(batch.sent_threads)


@contextmanager
def _storing() -> Iterator[None]:
    """Our own disk failing to store a batch's mail: said as such, not as the server's fault.

    The batch is not committed (its rows and the folder's last UID go together), so the next
    sync reads that mail again once there is room.
    """
    try:
        yield
    except OSError as exc:
        raise imap.MailboxError(imap.ErrorKind.STORAGE, exc.strerror or str(exc)) from exc


def _advance(state_id: int, old: tuple[int, int], new: tuple[int, int]) -> None:
    """Move the folder's (UIDVALIDITY, last UID) from `old` to `new`, or raise SyncConflict."""
    if old == new:
        return
    moved = execute_dml(
        update(_folders)
        .where(_folders.c.id == state_id, _folders.c.uidvalidity == old[0], _folders.c.last_uid == old[1])
        .values(uidvalidity=new[0], last_uid=new[1], synced_at=utcnow())
    )
    if moved.rowcount != 1:
        db.session.rollback()
        raise SyncConflict(f"folder state {state_id} moved on during this sync")
