"""kill -9 of a worker in the middle of classifying: no message lost, none classified twice."""

import time
from datetime import timedelta

from tests.faults.helpers import inbound_counts, kill_tree, set_columns, unclassified, wait_until
from tests.mailmaker import raw_mail
from tests.sinks import start_worker, stop_worker, worker_env
from webapp.mail.inbound.pipeline import CLAIM_STALE_AFTER
from webapp.models import Message
from webapp.models.types import utcnow

COUNT = 60  # groups commit up to 25 at a time (pipeline.GROUP_SIZE): room to be caught midway
# A subject of ~30 KB of encoded words: legitimate, and a fraction of a second to read, so
# that the kill finds the drain in the middle of its batch.
SLOW_SUBJECT = " ".join(["=?utf-8?q?Die_hei=C3=9Fe_Zypernsonne_qu=C3=A4lte_Max?="] * 500)


def store(app, count: int) -> list[int]:
    from webapp.receiving.receive import receive

    ids = []
    with app.test_request_context():
        for i in range(count):
            subject = SLOW_SUBJECT if i % 10 == 5 else f"Kill {i}"
            raw = raw_mail(subject="x", message_id=f"<kill-{i}@outside.test>")
            raw = raw.replace(b"Subject: x", b"Subject: " + subject.encode(), 1)
            ids.append(receive(raw, "test", envelope_to=["rita@mail.demo.test"]))
    return ids


def test_kill_9_mid_classification_loses_nothing_and_classifies_once(app, team, redis, redis_url):
    env = worker_env(app, redis_url, PERIODIC_INTERVAL=1, INBOUND_SWEEP_MIN_AGE=1)
    ids = store(app, COUNT)
    worker = start_worker(env, "classify")
    try:
        midway = wait_until(lambda: 0 < COUNT - unclassified(app) < COUNT - 5, 60, interval=0.05)
    finally:
        kill_tree(worker)
    killed_at = time.monotonic()
    assert midway, "the worker never started classifying"
    left = unclassified(app)
    assert 0 < left < COUNT

    # What it had claimed comes back once the claim is stale (CLAIM_STALE_AFTER): age them.
    set_columns(
        app,
        Message.outcome.is_(None) & Message.classify_claimed_at.is_not(None),
        classify_claimed_at=utcnow() - CLAIM_STALE_AFTER - timedelta(seconds=1),
    )
    restarted = start_worker(env)  # the periodic sweep wakes a drain
    try:
        done = wait_until(lambda: unclassified(app) == 0, 50)
        recovered = time.monotonic() - killed_at
    finally:
        log = stop_worker(restarted)
    assert done, log
    found = inbound_counts(app)
    assert sorted(r.id for r in found["rows"]) == sorted(ids)  # lost: none
    assert [r.outcome for r in found["rows"]] == ["candidate"] * COUNT, log
    # Twice: none. One recipient row and one conversation each.
    assert sorted(found["recipients"].values()) == [1] * COUNT
    assert len({r.thread_id for r in found["rows"]}) == COUNT
    print(
        f"\nkill -9 mid-classification: {left} waiting, lost 0, twice 0, "
        f"done {recovered:.1f} s after the kill"
    )
