"""Inbound jobs: classify one message; sweep up the ones never classified."""

import logging

from webapp.jobs.context import blob_store, inbound_settings, job
from webapp.mail.inbound import classify_stored, unclassified_ids

log = logging.getLogger(__name__)


@job
def classify_job(message_id: int) -> str | None:
    """Classify a stored inbound message by id (safe to run twice)."""
    return classify_stored(message_id, settings=inbound_settings(), store=blob_store())


@job
def sweep_unclassified() -> int:
    """Queue every stored message that was never classified; returns how many."""
    from datetime import timedelta

    from flask import current_app

    from webapp.jobs import enqueue_classify

    ids = unclassified_ids(min_age=timedelta(seconds=current_app.config["INBOUND_SWEEP_MIN_AGE"]))
    for message_id in ids:
        enqueue_classify(message_id)
    if ids:
        log.info("sweep queued %d unclassified messages", len(ids))
    return len(ids)
