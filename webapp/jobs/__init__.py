"""RQ jobs, and the one place that enqueues them (always after the commit)."""

import logging
from datetime import timedelta

from webapp.queues import get_queue

log = logging.getLogger(__name__)


def enqueue_classify(message_id: int) -> bool:
    """Queue classification of a stored message; False if Redis is unreachable (the sweep retries)."""
    from flask import current_app

    from webapp.jobs.inbound import classify_job

    # One job id per message: queueing it again (sweep, retry) replaces rather than doubles it.
    job_id = f"{current_app.config['RQ_QUEUE_PREFIX']}classify-{message_id}"
    try:
        get_queue("classify").enqueue(
            classify_job, message_id, job_id=job_id, result_ttl=600, failure_ttl=86400
        )
        return True
    except Exception:  # Redis down: the message is stored; the periodic sweep will queue it
        log.warning("could not queue classification of message %s", message_id, exc_info=True)
        return False


def enqueue_send(message_id: int, at=None, delay=None) -> bool:
    """Queue delivery now, at `at` (aware UTC) or after `delay`; False if Redis is unreachable.

    The database row says when it is due; a lost queue entry is found again by the reconciler.
    """
    from flask import current_app

    from webapp.jobs.send import send_job

    queue = get_queue("send")
    prefix = current_app.config["RQ_QUEUE_PREFIX"]
    try:
        if at is not None:
            # RQ keeps whole seconds (it truncates): round up, or the job runs before it is due.
            at = at.replace(microsecond=0) + timedelta(seconds=1) if at.microsecond else at
            job_id = f"{prefix}send-{message_id}-{int(at.timestamp())}"
            queue.enqueue_at(at, send_job, message_id, job_id=job_id, result_ttl=600, failure_ttl=86400)
        elif delay is not None:
            queue.enqueue_in(delay, send_job, message_id, result_ttl=600, failure_ttl=86400)
        else:
            queue.enqueue(send_job, message_id, result_ttl=600, failure_ttl=86400)
        return True
    except Exception:  # Redis down: the reconciler will queue it from the database
        log.warning("could not queue sending of message %s", message_id, exc_info=True)
        return False
