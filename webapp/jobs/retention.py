"""Retention in the worker: erase the mail older than the period an admin set (once a day)."""

import logging

from flask import current_app

from webapp.extensions import db
from webapp.jobs.context import job
from webapp.jobs.enqueue import enqueue_retention
from webapp.privacy import purge, retention
from webapp.queues import get_redis
from webapp.services import blob_store

log = logging.getLogger(__name__)
# The periodic process asks every minute; the job runs at most this often.
RETENTION_EVERY_S = 6 * 3600


@job
def retention_job() -> int:
    """Erase the conversations and messages past the retention period; how many messages (safe
    to run twice: the second run finds nothing due)."""
    period = retention.months()
    if period is None:
        return 0
    done = retention.apply(period)
    db.session.commit()
    removed = purge.forget_blobs(blob_store(), done.blobs)
    if done.messages:
        log.info(
            "retention erased %d messages, %d conversations, %d files",
            done.messages,
            done.conversations,
            removed,
        )
    return done.messages


def queue_retention() -> bool:
    """A periodic duty: queue the retention job if it has not been queued lately; True if queued."""
    key = f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}retention-queued"
    if not get_redis().set(key, "1", nx=True, ex=RETENTION_EVERY_S):
        return False
    return enqueue_retention()
