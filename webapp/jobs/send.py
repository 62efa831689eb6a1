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
from rq.registry import ScheduledJobRegistry

from webapp.jobs.context import job
from webapp.jobs.enqueue import SEND_DUE_JOB, enqueue_append_due, queue_drain, wake_flag, wake_sender
from webapp.mail.outbound.delivery import HandOverMarks, drain, more_due_than, next_due, reconcile
from webapp.mail.outbound.transport import transport_for
from webapp.metrics import count_sent
from webapp.models.types import utcnow
from webapp.queue_health import running_job_ids
from webapp.queues import get_queue, get_redis
from webapp.services import blob_store, mail_domain

log = logging.getLogger(__name__)

# A drain gives its worker back after this long (other queues wait), waking the next one.
DRAIN_BUDGET_S = 20.0
# With more than this due, a drain wakes another worker to share the backlog.
SHARE_BACKLOG_OVER = 200
# A worker must look again if the next scheduled message falls due this soon after a drain
# (the scheduler's clock ran ahead of the database's).
REARM_WITHIN_S = 300


@job
def send_due_job() -> int:
    """Send every due message, oldest first, over one connection; returns how many were sent."""
    # Mail committed after this line is not certain to be seen by this drain: it wakes anew.
    get_redis().delete(wake_flag())
    if more_due_than(SHARE_BACKLOG_OVER):
        queue_drain()  # another idle worker joins in; the claims keep them apart
    transport = transport_for(current_app.config)
    try:
        done = drain(transport, mail_domain(), blob_store(), budget=DRAIN_BUDGET_S, marks=hand_over_marks())
    finally:
        transport.close()
    count_sent(get_redis(), current_app.config["RQ_QUEUE_PREFIX"], done.sent, done.failed)
    if done.sent or done.failed:
        log.info("drain: %d sent, %d failed", done.sent, done.failed)
    if done.sent:
        enqueue_append_due()  # copy them to their senders' own Sent folders (connected mailboxes)
    for at in sorted(set(done.retry_at)):
        wake_sender(at)
    if done.stopped:
        log.warning(
            "sending paused: %s; %d message(s) wait for their retry", done.stopped, len(done.retry_at)
        )
    elif done.more:
        queue_drain()
    else:
        soon = next_due(utcnow(), timedelta(seconds=REARM_WITHIN_S))
        if soon is not None:
            wake_sender(soon)
    return done.sent


def hand_over_marks() -> HandOverMarks:
    """This app's marks on claimed messages not yet handed over (in its Redis, under its prefix)."""
    return HandOverMarks(get_redis(), current_app.config["RQ_QUEUE_PREFIX"])


def drain_waiting() -> bool:
    """Whether a send job is queued, running, or scheduled and already due: it will see the due mail."""
    queue = get_queue("send")
    job_ids = set(queue.get_job_ids())
    scheduled = ScheduledJobRegistry(queue=queue)
    job_ids.update(scheduled.get_jobs_to_schedule(int(time.time()), chunk_size=max(1, scheduled.count)))
    # A job RQ still lists as started whose worker died is no drain (issue 11: mail waited
    # for the registry's entry to expire): only jobs in a live worker count.
    job_ids.update(running_job_ids(queue))
    for found in Job.fetch_many(list(job_ids), connection=queue.connection):
        try:
            if found is not None and found.func_name == SEND_DUE_JOB:
                return True
        except Exception:  # an entry we cannot read: as if absent (a spare wake-up is harmless)
            continue
    return False


@job
def reconcile_job() -> int:
    """Wake a worker for due mail whose wake-up was lost (Redis flushed); flag stuck sends."""
    found = reconcile(
        grace=timedelta(seconds=current_app.config["SEND_RECONCILE_GRACE"]), marks=hand_over_marks()
    )
    # A message still waiting behind a backlog (a bulk send due at 9:00) is late, not lost.
    lost = bool(found.due or found.released) and not drain_waiting()
    if lost:
        queue_drain(force=True)
    if found.due or found.unknown or found.released:
        log.info(
            "reconciler: %d due message(s) late%s, %d given back by a stalled worker, %d outcome unknown",
            len(found.due),
            ", woke a worker" if lost else "",
            len(found.released),
            len(found.unknown),
        )
    return len(found.due) if lost else 0
