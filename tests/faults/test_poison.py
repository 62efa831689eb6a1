"""A poison message (one that takes too long to classify) is quarantined after the time bound;
the mail behind it is classified."""

import time

from tests.faults.helpers import inbound_counts, unclassified, wait_until
from tests.mailmaker import raw_mail
from tests.sinks import start_worker, stop_worker, worker_env

BEHIND = 10
# Seconds a classification may take in this test (INBOUND_CLASSIFY_TIME_LIMIT, 30 by default).
TIME_LIMIT = 0.25
# ~200 KB of encoded words in the Subject: parsing it alone takes about 0.4 s of CPU, past TIME_LIMIT
# (recognition reads only its first 1,000 characters since, so the bound is kept tight).
POISON_SUBJECT = " ".join(["=?utf-8?q?Die_hei=C3=9Fe_Zypernsonne_qu=C3=A4lte_Max?="] * 3500)


def test_a_poison_message_is_quarantined_after_the_bound_and_the_rest_is_classified(
    app, team, redis, redis_url
):
    from webapp.receiving.receive import receive

    env = worker_env(app, redis_url, PERIODIC_INTERVAL=1, INBOUND_CLASSIFY_TIME_LIMIT=TIME_LIMIT)
    poison = raw_mail(subject="x", message_id="<poison@outside.test>")
    poison = poison.replace(b"Subject: x", b"Subject: " + POISON_SUBJECT.encode(), 1)
    with app.test_request_context():
        poison_id = receive(poison, "test", envelope_to=["rita@mail.demo.test"])
        behind = [
            receive(raw_mail(subject=f"Behind {i}", message_id=f"<behind-{i}@outside.test>"), "test")
            for i in range(BEHIND)
        ]
    started = time.monotonic()
    worker = start_worker(env, "classify")
    try:
        done = wait_until(lambda: unclassified(app) == 0, 50)
        took = time.monotonic() - started
    finally:
        log = stop_worker(worker)
    assert done, log
    outcomes = {r.id: r.outcome for r in inbound_counts(app)["rows"]}
    assert outcomes[poison_id] == "quarantined", log
    assert [outcomes[i] for i in behind] == ["candidate"] * BEHIND
    from webapp.extensions import db
    from webapp.models import Message

    with app.app_context():
        reason = db.session.get_one(Message, poison_id).outcome_reason
    assert "ClassifyTimeout" in reason
    assert f"{TIME_LIMIT:g} s" in reason
    print(
        f"\npoison: quarantined after {TIME_LIMIT} s, {BEHIND} behind it classified, all done in {took:.1f} s"
    )


def test_the_bound_holds_even_where_the_readers_of_mail_catch_every_error(app, team):
    """The header readers fall back to raw text on any Exception: the timeout must not be one."""
    from webapp.extensions import db
    from webapp.mail.inbound.pipeline import classify_stored
    from webapp.models import Message
    from webapp.receiving.receive import receive
    from webapp.services import blob_store, mail_domain

    poison = raw_mail(subject="x").replace(b"Subject: x", b"Subject: " + POISON_SUBJECT.encode(), 1)
    with app.test_request_context():
        message_id = receive(poison, "test", envelope_to=["rita@mail.demo.test"])
        assert classify_stored(message_id, settings=mail_domain(), store=blob_store(), time_limit=0.2) == (
            "quarantined"
        )
        assert "ClassifyTimeout" in db.session.get_one(Message, message_id).outcome_reason
