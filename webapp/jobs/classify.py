"""Inbound jobs: drain the stored, unclassified mail in batches; sweep up what was lost.

The rows say what is to classify; a job in the classify queue only wakes a worker to drain
them (`classify_due_job`), as sending does. One drain classifies any number of messages in
one work-horse with one database connection: no fork and no new engine per message.
"""

import logging
from datetime import timedelta

from flask import current_app
from rq.job import Job

from webapp.extensions import db
from webapp.jobs.context import job
from webapp.jobs.drain_watch import RedisWatch
from webapp.jobs.enqueue import CLASSIFY_DUE_JOB, classify_wake_flag, classify_watch_key, wake_classifier
from webapp.mail.inbound.pipeline import (
    classify_stored,
    drain_unclassified,
    give_up_on_spent,
    unclassified_waiting,
)
from webapp.metrics import count_classified
from webapp.queues import QUEUE_NAMES, get_queue, get_redis
from webapp.services import blob_store, mail_domain

log = logging.getLogger(__name__)

# A drain gives its worker back after this long (sends wait behind it), waking the next one.
DRAIN_BUDGET_S = 20.0
# Messages claimed at a time.
DRAIN_BATCH = 50
# With more than this waiting, a drain wakes another worker to share the backlog.
SHARE_BACKLOG_OVER = 50
# With nothing left, a drain keeps looking this long (seconds) before giving its worker back,
# unless a job waits in another queue: a burst arriving a few messages at a time is drained
# as it comes, without a job, a fork and a connection for every few messages.
DRAIN_LINGER_S = 1.0


@job
def classify_due_job() -> int:
    """Classify every stored, unclassified message, oldest first, in batches; returns how many."""
    # Mail committed after this line is not certain to be seen by this drain: it wakes anew.
    get_redis().delete(classify_wake_flag())
    _share_backlog()
    done = drain_unclassified(
        settings=mail_domain(),
        store=blob_store(),
        budget=DRAIN_BUDGET_S,
        batch=DRAIN_BATCH,
        time_limit=current_app.config["INBOUND_CLASSIFY_TIME_LIMIT"],
        linger=DRAIN_LINGER_S,
        stop_lingering=_other_jobs_wait,
        watch=RedisWatch(get_redis(), classify_watch_key()),
        on_full_claim=_share_backlog,
    )
    prefix = current_app.config["RQ_QUEUE_PREFIX"]
    for outcome, count in done.outcomes.items():
        count_classified(get_redis(), prefix, outcome, count)
    if done.count:
        log.info("classify drain: %d classified %s", done.count, dict(done.outcomes))
    if done.more:
        wake_classifier()
    return done.count


def _share_backlog() -> None:
    """With a backlog, wake another idle worker to join in (the claims keep them apart)."""
    if unclassified_waiting(timedelta(0)) > SHARE_BACKLOG_OVER:
        wake_classifier(join=True)


def _other_jobs_wait() -> bool:
    """Whether a job waits in a queue other than classify (a send must not wait for a lingering drain)."""
    try:
        pipe = get_redis().pipeline(transaction=False)
        for name in QUEUE_NAMES:
            if name != "classify":
                pipe.llen(get_queue(name).key)
        return any(pipe.execute())  # one round trip a poll, not one a queue
    except Exception:  # Redis down: stop lingering, the sweep takes over
        return True


@job
def classify_job(message_id: int) -> str | None:
    """Classify a stored inbound message by id (safe to run twice); jobs queued before the drains."""
    outcome = classify_stored(
        message_id,
        settings=mail_domain(),
        store=blob_store(),
        time_limit=current_app.config["INBOUND_CLASSIFY_TIME_LIMIT"],
    )
    if outcome is not None:
        count_classified(get_redis(), current_app.config["RQ_QUEUE_PREFIX"], outcome)
        log.info("message %s classified: %s", message_id, outcome)
    return outcome


def drain_queued() -> bool:
    """Whether a classify drain waits in the queue (it will see every stored message)."""
    queue = get_queue("classify")
    for found in Job.fetch_many(queue.get_job_ids(), connection=queue.connection):
        try:
            if found is not None and found.func_name == CLASSIFY_DUE_JOB:
                return True
        except Exception:  # an entry we cannot read: as if absent (a spare drain is harmless)
            continue
    return False


@job
def sweep_unclassified() -> int:
    """Wake a drain for stored mail nobody is classifying; returns how many messages wait.

    Lost: never announced (Redis was down), or its drain died with it claimed (the claim goes
    stale). Messages out of tries are quarantined first. Mail younger than
    INBOUND_SWEEP_MIN_AGE is left to the drain its arrival woke.
    """
    if give_up_on_spent():
        db.session.commit()
    waiting = unclassified_waiting(timedelta(seconds=current_app.config["INBOUND_SWEEP_MIN_AGE"]))
    if waiting:
        # Forced unless a drain is queued: a flag left by a lost wake-up must not keep them
        # waiting (a spare drain finds nothing and ends).
        wake_classifier(force=not drain_queued())
        log.info("sweep: %d stored message(s) wait for classification; woke a worker", waiting)
    return waiting
