"""RQ jobs, and the one place that enqueues them (always after the commit)."""

import logging
from datetime import timedelta

from webapp.queues import get_queue

log = logging.getLogger(__name__)

# A wake-up job normally starts within seconds; a flag older than this lost its job.
WAKE_FLAG_TTL_S = 120


def classify_job_id(message_id: int) -> str:
    """The id of a message's classify job: one per message, so the sweep can ask Redis about it."""
    from flask import current_app

    return f"{current_app.config['RQ_QUEUE_PREFIX']}classify-{message_id}"


def enqueue_classify(message_id: int) -> bool:
    """Queue classification of a stored message; False if Redis is unreachable (the sweep retries)."""
    from webapp.jobs.inbound import classify_job

    # Queueing an id again pushes it again (RQ does not merge): the sweep first checks that
    # the message's job is no longer waiting (webapp/jobs/inbound.py, waiting_message_ids).
    try:
        get_queue("classify").enqueue(
            classify_job, message_id, job_id=classify_job_id(message_id), result_ttl=600, failure_ttl=86400
        )
        return True
    except Exception:  # Redis down: the message is stored; the periodic sweep will queue it
        log.warning("could not queue classification of message %s", message_id, exc_info=True)
        return False


def enqueue_send(message_id: int | None = None, at=None, delay=None) -> bool:
    """Make sure a worker sends due mail now, at `at` (aware UTC) or after `delay`.

    False if Redis is unreachable. The database row says what is due and when; the job only
    wakes a worker, so one job serves every message due at the same second, and a lost job
    is made up for by the reconciler.
    """
    from flask import current_app

    from webapp.jobs.send import send_due_job

    if delay is not None:
        from webapp.models.types import utcnow

        at = utcnow() + delay
    try:
        if at is None:
            wake_sender()
            return True
        # RQ keeps whole seconds (it truncates): round up, or the job runs before it is due.
        at = at.replace(microsecond=0) + timedelta(seconds=1) if at.microsecond else at
        # One id per second: messages due together share one job (RQ's scheduled set keeps
        # an id once), and a drain wakes up once for all of them.
        job_id = f"{current_app.config['RQ_QUEUE_PREFIX']}send-due-{int(at.timestamp())}"
        get_queue("send").enqueue_at(at, send_due_job, job_id=job_id, result_ttl=600, failure_ttl=86400)
        return True
    except Exception:  # Redis down: the reconciler will wake a worker from the database
        log.warning("could not queue sending of message %s", message_id, exc_info=True)
        return False


def wake_sender(force: bool = False) -> None:
    """Queue a drain of the due mail, unless one is already waiting to start (or `force`)."""
    from webapp.jobs.send import send_due_job, wake_flag
    from webapp.queues import get_redis

    # SET NX: a thousand messages sent in a second queue one job, not a thousand. The expiry
    # bounds the harm of a flag whose job was lost; the reconciler also forces a wake-up.
    if get_redis().set(wake_flag(), "1", nx=not force, ex=WAKE_FLAG_TTL_S):
        get_queue("send").enqueue(send_due_job, result_ttl=600, failure_ttl=86400)
