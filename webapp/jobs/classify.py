"""Inbound jobs: classify one message; sweep up the ones never classified."""

import contextlib
import logging
from datetime import timedelta

from flask import current_app
from rq.job import Job, JobStatus

from webapp.jobs.context import job
from webapp.jobs.enqueue import classify_job_id, enqueue_classify
from webapp.mail.inbound.pipeline import classify_stored, requeue_or_give_up, unclassified_ids
from webapp.metrics import count_classified
from webapp.queues import get_redis
from webapp.services import blob_store, mail_domain

log = logging.getLogger(__name__)
_WAITING = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


@job
def classify_job(message_id: int) -> str | None:
    """Classify a stored inbound message by id (safe to run twice)."""
    outcome = classify_stored(message_id, settings=mail_domain(), store=blob_store())
    if outcome is not None:
        count_classified(get_redis(), current_app.config["RQ_QUEUE_PREFIX"], outcome)
        log.info("message %s classified: %s", message_id, outcome)
    return outcome


def waiting_message_ids(message_ids: list[int]) -> set[int]:
    """Those of `message_ids` whose classify job is still in Redis, queued or running: late, not lost."""
    ids = list(message_ids)
    jobs = Job.fetch_many([classify_job_id(i) for i in ids], connection=get_redis())
    waiting = set()
    for message_id, found in zip(ids, jobs, strict=True):
        # An entry we cannot read counts as absent (a spare job is harmless).
        with contextlib.suppress(Exception):
            if found is not None and found.get_status(refresh=False) in _WAITING:
                waiting.add(message_id)
    return waiting


@job
def sweep_unclassified() -> int:
    """Queue again every stored message whose classification was lost; returns how many.

    Lost: never queued (Redis was down), or its job ended without classifying it (the worker
    died). A message still waiting behind a backlog is not queued twice, nor counted.
    """
    ids = unclassified_ids(min_age=timedelta(seconds=current_app.config["INBOUND_SWEEP_MIN_AGE"]))
    waiting = waiting_message_ids(ids) if ids else set()
    lost = requeue_or_give_up([i for i in ids if i not in waiting])
    for message_id in lost:
        enqueue_classify(message_id)
    if lost:
        log.info("sweep queued %d unclassified messages (%d still waiting)", len(lost), len(waiting))
    return len(lost)
