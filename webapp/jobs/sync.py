"""Mailbox sync jobs (the `sync` queue): sync one mailbox, copy sent mail to it, and the periodic duty.

Each job takes a mailbox connection's id and holds that mailbox's lock (Redis, with an expiry)
while it works: a second job for the same mailbox returns at once. Safe to run twice: the
folder state moves by compare-and-set with the rows it imported (webapp/mail/sync/importer.py).
"""

import contextlib
import logging
import time
from datetime import timedelta

from flask import current_app
from redis.exceptions import LockError
from redis.lock import Lock

from webapp.extensions import db
from webapp.jobs.context import job
from webapp.jobs.enqueue import (
    APPEND_SENT_JOB,
    SYNC_JOB,
    SYNC_JOB_TIMEOUT_S,
    enqueue_mailbox,
    new_mail_flag,
    wake_classifier,
)
from webapp.mail.sync import imap
from webapp.mail.sync.append import append_pending, connections_with_pending
from webapp.mail.sync.importer import Context
from webapp.mail.sync.runner import Timing, due_connection_ids, record_failure, server_of, sync_mailbox
from webapp.mail.sync.vault import VaultError
from webapp.models import MailboxConnection
from webapp.models.types import utcnow
from webapp.queues import get_redis
from webapp.services import blob_store, mail_domain, mailbox_vault

log = logging.getLogger(__name__)
# A sync part ends after this long and queues the next part (other mailboxes get their turn).
SYNC_BUDGET_S = 300.0


def timing() -> Timing:
    """The app's mailbox timeouts and intervals."""
    config = current_app.config
    return Timing(
        timeout=float(config["MAILBOX_TIMEOUT"]),
        interval=int(config["MAILBOX_SYNC_INTERVAL"]),
        max_backoff=int(config["MAILBOX_SYNC_MAX_BACKOFF"]),
        ca_file=config.get("MAILBOX_CA_FILE"),
        oauth_providers=config["MAILBOX_OAUTH_PROVIDERS"],
    )


def mailbox_lock(connection_id: int) -> Lock:
    """The lock one mailbox's jobs take (it expires, should a worker die holding it)."""
    name = f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}mailbox-lock-{connection_id}"
    return get_redis().lock(name, timeout=SYNC_JOB_TIMEOUT_S, blocking=False)


def _hand_to_classifier(message_ids: list[int]) -> None:
    """Wake the classify queue's drain for a batch just committed (one wake-up, whatever the size).

    Classified there in batches like any inbound mail, in parallel with the sync's next
    batches; the sync classifies at once only what its Sent mail answers (importer.py).
    """
    wake_classifier()


@job
def sync_job(connection_id: int) -> int | None:
    """Sync one mailbox's new mail (safe to run twice); how many messages it imported, None if busy."""
    lock = mailbox_lock(connection_id)
    if not lock.acquire():
        log.info("mailbox %s is being synced by another job", connection_id)
        return None
    done = 0
    try:
        ctx = Context(
            store=blob_store(),
            domain=mail_domain(),
            on_stored=_hand_to_classifier,
            deadline=time.monotonic() + SYNC_BUDGET_S,
        )
        while True:
            _new_mail_seen(connection_id)
            report = sync_mailbox(connection_id, mailbox_vault(), ctx, timing())
            if report is None:
                return done
            done += report.imported + report.sent
            # Announced while this sync ran (IDLE), maybe after it read the folder: once more.
            if report.more or not _new_mail_seen(connection_id) or ctx.out_of_time():
                break
    finally:
        _release(lock)
    if report.more:  # the budget ran out: the next part goes on where this one stopped
        enqueue_mailbox(SYNC_JOB, connection_id)
    return done


def _new_mail_seen(connection_id: int) -> bool:
    """Clear the mailbox's new-mail flag; whether it was set (Redis down: as if not)."""
    try:
        return bool(get_redis().delete(new_mail_flag(connection_id)))
    except Exception:  # the next poll catches up
        return False


@job
def append_sent_job(connection_id: int) -> int | None:
    """Copy the mailbox owner's mail sent from Hiremail into their Sent folder; how many, None if busy."""
    connection = db.session.get(MailboxConnection, connection_id)
    vault = mailbox_vault()
    if connection is None or vault is None:
        return 0
    lock = mailbox_lock(connection_id)
    if not lock.acquire():  # the running sync copies them too
        return None
    try:
        server = server_of(connection, vault, timing())
        conn = imap.connect(server, timeout=timing().timeout, ca_file=timing().ca_file)
        try:
            return append_pending(conn, connection_id)
        except imap.MailboxError:
            raise
        except Exception as exc:
            raise imap.network_error(exc) from exc
        finally:
            imap.logout(conn)
    except (imap.MailboxError, VaultError) as exc:
        db.session.rollback()
        error = (
            exc if isinstance(exc, imap.MailboxError) else imap.MailboxError(imap.ErrorKind.SERVER, str(exc))
        )
        record_failure(connection_id, error, timing())
        return 0
    finally:
        _release(lock)


def _release(lock: Lock) -> None:
    """Let the mailbox go; a lock that expired meanwhile (a very long job) is no longer ours."""
    with contextlib.suppress(LockError):
        lock.release()


@job
def append_due_job() -> int:
    """After sends: queue an append job for each mailbox whose owner has sent mail not yet copied."""
    ids = connections_with_pending()
    for connection_id in ids:
        enqueue_mailbox(APPEND_SENT_JOB, connection_id)
    return len(ids)


@job
def schedule_syncs() -> int:
    """Periodic duty: queue a sync of each mailbox whose time has come; how many were queued."""
    now = utcnow()
    ids = due_connection_ids(now)
    if not ids:
        return 0
    # A lease: the job records the real next time; a lost job is queued again after the interval.
    lease = timing().interval
    db.session.query(MailboxConnection).filter(MailboxConnection.id.in_(ids)).update(
        {MailboxConnection.next_sync_at: now + timedelta(seconds=lease)}, synchronize_session=False
    )
    db.session.commit()
    for connection_id in ids:
        enqueue_mailbox(SYNC_JOB, connection_id)
    return len(ids)
