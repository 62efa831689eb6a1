"""kill -9 of a worker in the middle of a send: nothing leaves twice, nothing is lost."""

import time
from datetime import timedelta

from tests.faults.helpers import kill_tree, wait_until
from tests.sinks import start_worker, stop_worker, worker_env
from tests.test_outbound import create, load
from webapp.jobs.enqueue import queue_drain
from webapp.mail.outbound.delivery import RELEASE_AFTER, SENDING_TIMEOUT, HandOverMarks, reconcile
from webapp.models.types import utcnow
from webapp.queues import get_redis

OTHERS = 4


def test_kill_9_mid_send_sends_nothing_twice_and_the_rest_leaves_after_restart(
    app, team, stalling_smtp, redis, redis_url
):
    env = worker_env(app, redis_url, SMTP_URL=stalling_smtp.url, PERIODIC_INTERVAL=1, SEND_RECONCILE_GRACE=2)
    # The server hangs on the first message's DATA: the worker is killed right there, the
    # four others claimed in the same batch and not handed over yet.
    stalled = create(app, team.rita, subject="Stall here")
    others = [create(app, team.rita, subject=f"Other {i}") for i in range(OTHERS)]
    with app.app_context():
        queue_drain(force=True)
    worker = start_worker(env, "send")
    try:
        assert wait_until(lambda: stalling_smtp.handler.stalled, 60), "the send never reached DATA"
    finally:
        kill_tree(worker)
    killed_at = time.monotonic()
    assert [load(app, m.id).status for m in [stalled, *others]] == ["sending"] * (OTHERS + 1)

    # The reconciler's round once the claims are old enough (RELEASE_AFTER for what was never
    # handed over, SENDING_TIMEOUT for the one that may have left), run as it would run then.
    with app.app_context():
        found = reconcile(
            now=utcnow() + SENDING_TIMEOUT + RELEASE_AFTER,
            grace=timedelta(seconds=2),
            marks=HandOverMarks(get_redis(), app.config["RQ_QUEUE_PREFIX"]),
        )
    assert sorted(found.released) == sorted(m.id for m in others)
    assert found.unknown == [stalled.id]

    restarted = start_worker(env)  # with its periodic process: the reconciler wakes a drain
    try:
        sent = wait_until(lambda: all(load(app, m.id).status == "sent" for m in others), 45)
        recovered = time.monotonic() - killed_at
        time.sleep(2)  # another reconciler round must send nothing again
    finally:
        log = stop_worker(restarted)
    assert sent, log
    subjects = [m.data.split(b"Subject: ", 1)[1].split(b"\r\n", 1)[0] for m in stalling_smtp.messages]
    assert sorted(subjects) == sorted(f"Other {i}".encode() for i in range(OTHERS))  # each once
    # The one whose DATA hung may have arrived: a person decides ("unknown"), never a blind resend.
    assert load(app, stalled.id).status == "unknown"
    print(f"\nkill -9 mid-send: sent twice 0, lost 0, {OTHERS} sent {recovered:.1f} s after the kill")
