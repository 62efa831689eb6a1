"""Send jobs: drain the due mail over one connection (safe to run twice); reconcile lost wake-ups.

The database says what is due; a job in the send queue only wakes a worker up to look. So
jobs are few and shared: one wake-up for any number of messages sent now, and one per
second for messages scheduled for that second. A send in RQ costs several milliseconds of
queue bookkeeping alone, more than handing a message to a local SMTP server.
"""

import logging
import time
from datetime import timedelta

from flask import current_app
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from webapp.jobs.context import blob_store, job
from webapp.mail.delivery import (
    HandOverMarks,
    OutboundSettings,
    deliver,
    drain,
    more_due_than,
    next_due,
    reconcile,
)
from webapp.mail.transport import transport_for
from webapp.models.types import utcnow
from webapp.queues import get_queue, get_redis

log = logging.getLogger(__name__)

# A drain gives its worker back after this long (other queues wait), waking the next one.
DRAIN_BUDGET_S = 20.0
# With more than this due, a drain wakes another worker to share the backlog.
SHARE_BACKLOG_OVER = 200
# A worker must look again if the next scheduled message falls due this soon after a drain
# (the scheduler's clock ran ahead of the database's).
REARM_WITHIN_S = 300


def outbound_settings() -> OutboundSettings:
    return OutboundSettings(
        domain=current_app.config["INBOUND_DOMAIN"], secret=current_app.config["INBOUND_SECRET"]
    )


def wake_flag() -> str:
    """The Redis key set while a wake-up job waits in the queue (one is enough)."""
    return f"hiremail:{current_app.config['RQ_QUEUE_PREFIX']}send-wake"


@job
def send_due_job() -> int:
    """Send every due message, oldest first, over one connection; returns how many were sent."""
    from webapp.jobs import enqueue_send, wake_sender

    # Mail committed after this line is not certain to be seen by this drain: it wakes anew.
    get_redis().delete(wake_flag())
    if more_due_than(SHARE_BACKLOG_OVER):
        wake_sender()  # another idle worker joins in; the claims keep them apart
    transport = transport_for(current_app.config)
    try:
        done = drain(
            transport, outbound_settings(), blob_store(), budget=DRAIN_BUDGET_S, marks=hand_over_marks()
        )
    finally:
        transport.close()
    for at in sorted(set(done.retry_at)):
        enqueue_send(at=at)
    if done.stopped:
        log.warning(
            "sending paused: %s; %d message(s) wait for their retry", done.stopped, len(done.retry_at)
        )
    elif done.more:
        wake_sender()
    else:
        soon = next_due(utcnow(), timedelta(seconds=REARM_WITHIN_S))
        if soon is not None:
            enqueue_send(at=soon)
    return done.sent


def hand_over_marks() -> HandOverMarks:
    return HandOverMarks(get_redis(), current_app.config["RQ_QUEUE_PREFIX"])


@job
def send_job(message_id: int) -> str:
    """Deliver one queued or due scheduled message by id; a no-op if it is not due or taken."""
    from webapp.jobs import enqueue_send

    transport = transport_for(current_app.config)
    try:
        result = deliver(message_id, transport, outbound_settings(), blob_store())
    finally:
        transport.close()
    if result.outcome == "retry":
        enqueue_send(message_id, delay=result.retry_in)
    elif result.outcome == "skipped" and result.due_at is not None:
        enqueue_send(message_id, at=result.due_at)  # woke early (clock skew): come back on time
    return result.outcome


def drain_waiting() -> bool:
    """Whether a send job is queued, running, or scheduled and already due: it will see the due mail."""
    queue = get_queue("send")
    job_ids = set(queue.get_job_ids())
    scheduled = ScheduledJobRegistry(queue=queue)
    job_ids.update(scheduled.get_jobs_to_schedule(int(time.time()), chunk_size=max(1, scheduled.count)))
    started = StartedJobRegistry(queue=queue).get_job_and_execution_ids(cleanup=False)
    job_ids.update(job_id for job_id, _ in started)
    name = f"{send_due_job.__module__}.{send_due_job.__qualname__}"
    for found in Job.fetch_many(list(job_ids), connection=queue.connection):
        try:
            if found is not None and found.func_name == name:
                return True
        except Exception:  # an entry we cannot read: as if absent (a spare wake-up is harmless)
            continue
    return False


@job
def reconcile_job() -> int:
    """Wake a worker for due mail whose wake-up was lost (Redis flushed); flag stuck sends."""
    from webapp.jobs import wake_sender

    found = reconcile(
        grace=timedelta(seconds=current_app.config["SEND_RECONCILE_GRACE"]), marks=hand_over_marks()
    )
    # A message still waiting behind a backlog (a bulk send due at 9:00) is late, not lost.
    lost = bool(found.due or found.released) and not drain_waiting()
    if lost:
        wake_sender(force=True)
    if found.due or found.unknown or found.released:
        log.info("reconciler: %d due message(s) late%s, %d given back by a stalled worker, %d outcome unknown",
                 len(found.due), ", woke a worker" if lost else "", len(found.released), len(found.unknown))  # fmt: skip
    return len(found.due) if lost else 0
