"""RQ jobs, and the one place that enqueues them (always after the commit)."""

import logging

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
