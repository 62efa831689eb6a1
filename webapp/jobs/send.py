"""Send jobs: deliver one message (safe to run twice); reconcile lost queue entries."""

import logging

from flask import current_app

from webapp.jobs.context import blob_store, job
from webapp.mail.outbound import OutboundSettings, deliver, reconcile
from webapp.mail.transport import transport_for

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


@job
def reconcile_job() -> int:
    """Queue due messages whose queue entry was lost (Redis flushed); flag stuck sends."""
    from datetime import timedelta

    from webapp.jobs import enqueue_send

    found = reconcile(grace=timedelta(seconds=current_app.config["SEND_RECONCILE_GRACE"]))
    for message_id in found.due:
        enqueue_send(message_id)
    if found.due or found.unknown:
        log.info("reconciler queued %d due messages, %d outcome unknown", len(found.due), len(found.unknown))
    return len(found.due)
