"""The one place that queues jobs, always after the commit; jobs are named by dotted path.

Job modules import this module, never the reverse: naming a job by its path lets RQ import
it in the worker, and keeps this module free of the job code and everything it imports.
"""

import logging
from datetime import datetime, timedelta

from flask import current_app

from webapp.queues import get_queue, get_redis

log = logging.getLogger(__name__)

CLASSIFY_JOB = "webapp.jobs.classify.classify_job"
CLASSIFY_DUE_JOB = "webapp.jobs.classify.classify_due_job"
SEND_DUE_JOB = "webapp.jobs.send.send_due_job"
RETENTION_JOB = "webapp.jobs.retention.retention_job"
SYNC_JOB = "webapp.jobs.sync.sync_job"
APPEND_SENT_JOB = "webapp.jobs.sync.append_sent_job"
APPEND_DUE_JOB = "webapp.jobs.sync.append_due_job"
# A mailbox sync may read thousands of messages: it stops after its budget and queues its
# next part itself; RQ's timeout is a backstop above that budget.
SYNC_JOB_TIMEOUT_S = 1800
# A wake-up job normally starts within seconds; a flag older than this lost its job.
WAKE_FLAG_TTL_S = 120


# Set the wake flag unless a drain watches for new mail (it will see this mail): one round trip.
_WAKE_UNLESS_WATCHED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 1 end
return 0
"""


def wake_classifier(force: bool = False, join: bool = False) -> bool:
    """Make sure a worker drains the stored, unclassified mail; False if Redis is down (the sweep retries).

    As for sending, the rows say what is to do and a job only wakes a worker: a burst of a
    thousand messages queues one drain while one waits, not a job (and a fork) per message.
    Nor is one queued while a drain watches for new mail (it looks again before it stops):
    `join` queues one all the same, for a backlog another worker should share.
    """
    flag = classify_wake_flag()
    try:
        redis = get_redis()
        if force or join:
            wanted = redis.set(flag, "1", nx=not force, ex=WAKE_FLAG_TTL_S)
        else:
            wanted = redis.eval(_WAKE_UNLESS_WATCHED, 2, classify_watch_key(), flag, WAKE_FLAG_TTL_S)
        if wanted:
            try:
                get_queue("classify").enqueue(CLASSIFY_DUE_JOB, result_ttl=600, failure_ttl=86400)
            except Exception:
                redis.delete(flag)  # no job behind it: the next arrival must try again
                raise
        return True
    except Exception:  # Redis down: the rows are stored; the periodic sweep wakes a worker later
        log.warning("could not wake a classifier", exc_info=True)
        return False


def enqueue_retention() -> bool:
    """Queue the retention job once (a fixed id: a second call while it waits adds nothing)."""
    try:
        job_id = f"{current_app.config['RQ_QUEUE_PREFIX']}retention"
        get_queue("default").enqueue(RETENTION_JOB, job_id=job_id, result_ttl=600, failure_ttl=86400)
        return True
    except Exception:  # Redis down: the periodic process asks again later
        log.warning("could not queue the retention job", exc_info=True)
        return False


def classify_wake_flag() -> str:
    """The Redis key set while a classify drain waits in the queue (one is enough)."""
    return f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}classify-wake"


def classify_watch_key() -> str:
    """The Redis lease of the one classify drain watching for new mail (webapp/jobs/drain_watch.py)."""
    return f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}classify-watch"


def wake_sender(at: datetime | None = None) -> bool:
    """Make sure a worker drains the due mail now, or at `at` (aware UTC); False if Redis is down.

    The database row says what is due and when; the job only wakes a worker, so one job
    serves every message due at the same second, and a lost job is made up for by the
    reconciler.
    """
    try:
        if at is None:
            queue_drain()
            return True
        # RQ keeps whole seconds (it truncates): round up, or the job runs before it is due.
        at = at.replace(microsecond=0) + timedelta(seconds=1) if at.microsecond else at
        # One id per second: messages due together share one job (RQ's scheduled set keeps
        # an id once), and a drain wakes up once for all of them.
        job_id = f"{current_app.config['RQ_QUEUE_PREFIX']}send-due-{int(at.timestamp())}"
        get_queue("send").enqueue_at(at, SEND_DUE_JOB, job_id=job_id, result_ttl=600, failure_ttl=86400)
        return True
    except Exception:  # Redis down: the reconciler will wake a worker from the database
        log.warning("could not wake a sender (due %s)", at or "now", exc_info=True)
        return False


def queue_drain(force: bool = False) -> None:
    """Queue a drain of the due mail now, unless one is already waiting to start (or `force`).

    Raises if Redis is unreachable (wake_sender is the forgiving form).
    """
    # SET NX: a thousand messages sent in a second queue one job, not a thousand. The expiry
    # bounds the harm of a flag whose job was lost; the reconciler also forces a wake-up.
    if get_redis().set(wake_flag(), "1", nx=not force, ex=WAKE_FLAG_TTL_S):
        get_queue("send").enqueue(SEND_DUE_JOB, result_ttl=600, failure_ttl=86400)


def wake_flag() -> str:
    """The Redis key set while a wake-up job waits in the queue (one is enough)."""
    return f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}send-wake"


def mailbox_job_id(kind: str, connection_id: int) -> str:
    """The id of a mailbox's sync or append job: one of each per mailbox waits at a time."""
    return f"{current_app.config['RQ_QUEUE_PREFIX']}{kind}-{connection_id}"


def new_mail_flag(connection_id: int) -> str:
    """Set when a mailbox's server announces new mail (IDLE); a sync running meanwhile goes round again."""
    return f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}mailbox-new-mail-{connection_id}"


def announce_new_mail(connection_id: int) -> bool:
    """New mail in a mailbox: flag it and queue its sync; False if Redis is down (polling catches up)."""
    try:
        get_redis().set(new_mail_flag(connection_id), "1", ex=3600)
    except Exception:  # Redis down: the periodic polling syncs it later
        log.warning("could not flag new mail of mailbox %s", connection_id, exc_info=True)
        return False
    return enqueue_mailbox(SYNC_JOB, connection_id)


def enqueue_mailbox(job: str, connection_id: int) -> bool:
    """Queue a sync (SYNC_JOB) or an append (APPEND_SENT_JOB) of one mailbox, unless one is waiting.

    False if Redis is unreachable (the periodic duty queues syncs again).
    """
    kind = "sync" if job == SYNC_JOB else "append"
    job_id = mailbox_job_id(kind, connection_id)
    try:
        queue = get_queue("sync")
        existing = queue.fetch_job(job_id)
        if existing is not None and existing.get_status(refresh=False) in ("queued", "started", "scheduled"):
            return True  # one waiting is enough: it will see everything there is
        queue.enqueue(
            job,
            connection_id,
            job_id=job_id,
            job_timeout=SYNC_JOB_TIMEOUT_S,
            result_ttl=600,
            failure_ttl=86400,
        )
        return True
    except Exception:  # Redis down: the periodic duty queues due syncs again
        log.warning("could not queue %s of mailbox %s", kind, connection_id, exc_info=True)
        return False


def enqueue_append_due() -> bool:
    """After sends: queue the job that copies sent mail to the senders' own Sent folders."""
    try:
        get_queue("sync").enqueue(APPEND_DUE_JOB, result_ttl=600, failure_ttl=86400)
        return True
    except Exception:  # Redis down: the next sync of each mailbox copies them
        log.warning("could not queue copying sent mail to mailboxes", exc_info=True)
        return False
