"""The operator's probes: /healthz (liveness, no dependency) and /readyz (database, Redis, mail, workers)."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from redis import Redis
from rq import Worker
from rq.utils import utcformat

from webapp.jobs import periodic
from webapp.models import Direction, Status
from webapp.models.types import utcnow
from webapp.queues import QUEUE_NAMES, get_queue


@contextmanager
def dead_redis(app):
    saved = app.extensions.get("hiremail_redis")
    app.extensions["hiremail_redis"] = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    try:
        yield
    finally:
        if saved is None:
            app.extensions.pop("hiremail_redis")
        else:
            app.extensions["hiremail_redis"] = saved


@pytest.fixture
def workers(app, redis):
    """A worker registered on every queue of this run, as `python worker.py` registers itself."""
    with app.app_context():
        worker = Worker(
            [get_queue(name) for name in QUEUE_NAMES],
            connection=redis,
            name=f"{app.config['RQ_QUEUE_PREFIX']}probe-worker",
        )
        worker.register_birth()
        periodic.beat(redis, app.config["RQ_QUEUE_PREFIX"], app.config["PERIODIC_INTERVAL"])
    yield worker
    worker.register_death()


def test_healthz_is_alive_without_asking_anything(app, client):
    with dead_redis(app):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_with_database_redis_and_workers(client, workers):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "due_mail": "ok", "redis": "ok", "workers": "ok", "periodic": "ok"},
        "oldest_due_s": 0,
        "workers": {"send": 1, "classify": 1, "default": 1, "sync": 1},
    }


def test_readyz_is_public_and_needs_no_login(client, workers):
    assert client.get("/readyz").status_code == 200


def test_readyz_without_workers_names_the_queues_nobody_serves(client, redis):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "error"
    assert body["checks"]["workers"] == "error: no worker seen for send, classify, default, sync"
    assert body["workers"] == {"send": 0, "classify": 0, "default": 0, "sync": 0}


def test_readyz_counts_only_the_workers_on_each_queue(app, client, redis):
    with app.app_context():
        sender = Worker([get_queue("send")], connection=redis, name=f"{app.config['RQ_QUEUE_PREFIX']}sender")
    sender.register_birth()
    try:
        body = client.get("/readyz").get_json()
    finally:
        sender.register_death()
    assert body["workers"] == {"send": 1, "classify": 0, "default": 0, "sync": 0}
    assert body["checks"]["workers"] == "error: no worker seen for classify, default, sync"


def test_readyz_ignores_a_worker_not_seen_for_too_long(app, client, workers):
    workers.connection.hset(
        workers.key,
        "last_heartbeat",
        utcformat(utcnow() - timedelta(seconds=app.config["WORKER_TTL"] + 61)),
    )
    assert client.get("/readyz").get_json()["workers"]["send"] == 0


def test_readyz_reports_a_dead_redis(app, client):
    with dead_redis(app):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["checks"]["redis"].startswith("error")
    assert body["checks"]["database"] == "ok"
    assert "workers" not in body["checks"]


def test_readyz_fails_when_mail_waits_too_long_to_leave(app, client, workers, make, team):
    late = utcnow() - timedelta(seconds=app.config["READY_MAX_DUE_AGE"] + 100)
    make.message(
        direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice, status=Status.SCHEDULED, at=late
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["oldest_due_s"] >= app.config["READY_MAX_DUE_AGE"] + 100
    assert body["checks"]["due_mail"].startswith("error: a message has waited")


def test_readyz_ignores_mail_scheduled_for_later_and_mail_already_sent(app, client, workers, make, team):
    make.message(
        direction=Direction.OUTBOUND,
        sender=team.rita,
        candidate=team.alice,
        status=Status.SCHEDULED,
        at=utcnow() + timedelta(hours=2),
    )
    make.message(
        direction=Direction.OUTBOUND, sender=team.rita, candidate=team.alice, at=utcnow() - timedelta(days=1)
    )
    body = client.get("/readyz").get_json()
    assert body["oldest_due_s"] == 0
    assert body["checks"]["due_mail"] == "ok"


def test_readyz_reports_a_recent_backlog_without_failing(client, workers, make, team):
    make.message(
        direction=Direction.OUTBOUND,
        sender=team.rita,
        candidate=team.alice,
        status=Status.QUEUED,
        at=utcnow() - timedelta(seconds=42),
    )
    response = client.get("/readyz")
    assert response.status_code == 200
    assert 42 <= response.get_json()["oldest_due_s"] < 100


def test_readyz_reports_a_dead_or_stale_periodic_process(app, client, workers, redis):
    """The sweep and the reconciler run in the periodic process: silent for three rounds, not ready."""
    from webapp.queue_health import periodic_heartbeat_key

    key = periodic_heartbeat_key(app.config["RQ_QUEUE_PREFIX"])
    assert 0 < redis.ttl(key) <= 3 * app.config["PERIODIC_INTERVAL"] + 5  # gone after three missed rounds
    redis.delete(key)  # as when it expires
    response = client.get("/readyz")
    assert response.status_code == 503
    silent_for = 3 * app.config["PERIODIC_INTERVAL"]
    assert response.get_json()["checks"]["periodic"] == f"error: no periodic process seen in {silent_for} s"


def test_the_periodic_loop_survives_an_outage_of_redis(app, monkeypatch):
    """A failed round is logged and tried again, 1, 2, 4... s later (up to the interval)."""
    from redis.exceptions import ConnectionError as RedisDown

    rounds, pauses = [], []

    def run_due(app_, redis_, interval):
        rounds.append(interval)
        if len(rounds) <= 3:
            raise RedisDown("Connection refused")
        return True

    def sleep(seconds):
        pauses.append(seconds)
        if len(pauses) > 6:
            raise KeyboardInterrupt  # the test's way out of the loop

    monkeypatch.setattr(periodic, "run_due", run_due)
    monkeypatch.setattr(periodic, "beat", lambda *args: None)
    monkeypatch.setattr(periodic.time, "sleep", sleep)
    periodic.run_forever(60.0, config=dict(app.config))
    assert pauses == [0.0, 1.0, 2.0, 4.0, 60.0, 60.0, 60.0]
    assert len(rounds) == 6
