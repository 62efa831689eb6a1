"""The mail server down during a send: a visible retry, then sent once it is back; never lost."""

import time
from datetime import timedelta

from tests.faults.helpers import set_columns, wait_until
from tests.sinks import SmtpSink, free_port, start_worker, stop_worker, worker_env
from tests.test_outbound import create, load
from webapp.jobs.enqueue import queue_drain
from webapp.models import Message
from webapp.models.types import utcnow


def test_a_send_to_a_server_that_is_down_retries_visibly_and_leaves_once_it_is_back(
    app, team, redis, redis_url
):
    port = free_port()  # nobody listens there yet
    env = worker_env(
        app, redis_url, SMTP_URL=f"smtp://127.0.0.1:{port}", PERIODIC_INTERVAL=1, SEND_RECONCILE_GRACE=2
    )
    msg = create(app, team.rita, subject="While the server is down")
    with app.app_context():
        queue_drain(force=True)
    sink = SmtpSink()
    worker = start_worker(env)
    try:
        retrying = wait_until(
            lambda: load(app, msg.id).send_attempts == 1 and load(app, msg.id).status == "queued", 40
        )
        assert retrying, "the failed attempt was not recorded"
        row = load(app, msg.id)
        assert row.error.startswith("Temporary failure, retrying")  # what the sender sees
        assert row.scheduled_at > utcnow() + timedelta(seconds=10)  # its retry, after the backoff
        assert sink.messages == []

        sink.controller.port = port
        sink.start()  # the server is back
        back_at = time.monotonic()
        # The backoff is 30 s (RETRY_DELAYS[0]): move the retry's time instead of waiting.
        set_columns(app, Message.id == msg.id, scheduled_at=utcnow() - timedelta(seconds=3))
        sent = wait_until(lambda: load(app, msg.id).status == "sent", 40)
        recovered = time.monotonic() - back_at
        time.sleep(2)  # another reconciler round must not send it again
    finally:
        log = stop_worker(worker)
        sink.stop()
    assert sent, log
    assert len(sink.messages) == 1
    assert load(app, msg.id).send_attempts == 2
    print(
        f"\nSMTP down: 1 retry shown, lost 0, sent twice 0, sent {recovered:.1f} s after the server came back"
    )
