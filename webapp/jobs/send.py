"""Send jobs: deliver one message (safe to run twice); reconcile lost queue entries."""

import logging
import time

from flask import current_app
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from webapp.jobs.context import blob_store, job
from webapp.mail.outbound import OutboundSettings, deliver, reconcile
from webapp.mail.transport import transport_for
from webapp.queues import get_queue

log = logging.getLogger(__name__)


def outbound_settings() -> OutboundSettings:
    return OutboundSettings(
        domain=current_app.config["INBOUND_DOMAIN"], secret=current_app.config["INBOUND_SECRET"]
    )


@job
def send_job(message_id: int) -> str:
    """Deliver a queued or due scheduled message by id; a no-op if it is not due or taken."""
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


def waiting_message_ids() -> set[int]:
    """Messages with a send job in Redis that is already due: queued, due to be queued, or running.

    A job scheduled for later does not count: the message it is for became due sooner.
    """
    queue = get_queue("send")
    job_ids = set(queue.get_job_ids())
    scheduled = ScheduledJobRegistry(queue=queue)
    job_ids.update(scheduled.get_jobs_to_schedule(int(time.time()), chunk_size=max(1, scheduled.count)))
    started = StartedJobRegistry(queue=queue).get_job_and_execution_ids(cleanup=False)
    job_ids.update(job_id for job_id, _ in started)
    name = f"{send_job.__module__}.{send_job.__qualname__}"
    waiting = set()
    for found in Job.fetch_many(list(job_ids), connection=queue.connection):
        try:
            if found is not None and found.func_name == name and found.args:
                waiting.add(found.args[0])
        except Exception:  # an entry we cannot read: as if absent (a spare job is harmless)
            continue
    return waiting


@job
def reconcile_job() -> int:
    """Queue due messages whose queue entry was lost (Redis flushed); flag stuck sends."""
    from datetime import timedelta

    from webapp.jobs import enqueue_send

    found = reconcile(grace=timedelta(seconds=current_app.config["SEND_RECONCILE_GRACE"]))
    # A message still waiting behind a backlog (a bulk send due at 9:00) is late, not lost:
    # queueing it again added the backlog again on every round (5,000 due at once: 9,000 extra
    # jobs, each a fork, ahead of any mail sent after the burst).
    waiting = waiting_message_ids() if found.due else set()
    lost = [message_id for message_id in found.due if message_id not in waiting]
    for message_id in lost:
        enqueue_send(message_id)
    if lost or found.unknown:
        log.info("reconciler queued %d due messages (%d more still waiting in the queue), %d outcome unknown",
                 len(lost), len(found.due) - len(lost), len(found.unknown))  # fmt: skip
    return len(lost)
