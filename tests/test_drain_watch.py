"""One classify drain watches for new mail: arrivals meanwhile wake no other worker, and mail
stored while it watched is never left behind when it stops."""

import time

from tests.mailmaker import raw_mail
from tests.test_classify_once import outcomes, stored
from webapp.extensions import db


def drain(watch, linger: float):
    """A drain as the job runs one, with this watch (inside an app context)."""
    from webapp.mail.inbound.pipeline import drain_unclassified
    from webapp.services import blob_store, mail_domain

    return drain_unclassified(
        settings=mail_domain(), store=blob_store(), budget=60, linger=linger, watch=watch
    )


def classify_jobs(app) -> int:
    from webapp.queues import get_queue

    with app.app_context():
        return get_queue("classify").count


def test_mail_arriving_while_a_drain_watches_queues_no_job(app, redis):
    from webapp.jobs.drain_watch import RedisWatch
    from webapp.jobs.enqueue import classify_wake_flag, classify_watch_key, wake_classifier

    with app.app_context():
        watch = RedisWatch(redis, classify_watch_key())
        assert watch.take()
        assert wake_classifier()  # an arrival: the watcher will see it
        assert classify_jobs(app) == 0
        assert wake_classifier(join=True)  # a backlog to share: one more worker all the same
        assert classify_jobs(app) == 1
        redis.delete(classify_wake_flag())
        watch.release()
        assert wake_classifier()  # nobody watches: the usual wake-up
        assert classify_jobs(app) == 2


def test_one_watcher_at_a_time_and_a_lapsed_lease_is_free(app, redis, monkeypatch):
    from webapp.jobs import drain_watch
    from webapp.jobs.enqueue import classify_watch_key

    with app.app_context():
        first = drain_watch.RedisWatch(redis, classify_watch_key())
        second = drain_watch.RedisWatch(redis, classify_watch_key())
        assert first.take()
        assert not second.take()
        assert first.take()  # renewing its own
        second.release()  # not its lease: nothing happens
        assert not second.take()
        redis.pexpire(classify_watch_key(), 1)  # the watcher died: its lease lapses
        time.sleep(0.01)
        assert second.take()
        assert not first.take()


def test_a_drain_that_finds_nothing_while_another_watches_returns_at_once(app, team, redis):
    from webapp.jobs.drain_watch import RedisWatch
    from webapp.jobs.enqueue import classify_watch_key

    first = stored(app, raw_mail(subject="First"))
    with app.app_context():
        watcher = RedisWatch(redis, classify_watch_key())
        assert watcher.take()
        started = time.monotonic()
        done = drain(RedisWatch(redis, classify_watch_key()), linger=30)
        assert done.count == 1  # it drains what there is...
        assert time.monotonic() - started < 10  # ...and does not linger: the watcher does
        assert watcher.take()  # and the lease is still the watcher's
    assert outcomes(app, [first]) == ["candidate"]


def test_mail_stored_as_the_watcher_stops_is_classified_by_its_last_look(app, team, redis):
    """The lease is let go first, then the watcher looks once more: mail whose wake-up saw the
    lease (and so queued no job) is classified all the same."""
    from webapp.jobs.drain_watch import RedisWatch
    from webapp.jobs.enqueue import classify_watch_key, wake_classifier

    arrived = []

    class ArrivalBeforeTheLeaseGoes(RedisWatch):
        def release(self) -> None:
            if not arrived:  # the listener commits, sees the lease, queues nothing
                arrived.append(stored(app, raw_mail(subject="Just in time")))
                with app.app_context():
                    wake_classifier()
            super().release()

    with app.app_context():
        done = drain(ArrivalBeforeTheLeaseGoes(redis, classify_watch_key()), linger=0.1)
        assert done.count == 1
        assert redis.get(classify_watch_key()) is None  # let go at the end
        db.session.remove()
    assert classify_jobs(app) == 0
    assert outcomes(app, arrived) == ["candidate"]
