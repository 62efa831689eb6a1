"""Pooled connections: pinged before use only after sitting idle, and replaced if the server dropped them."""

import os
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from webapp import extensions
from webapp.extensions import db


def _pings(app, monkeypatch) -> list[int]:
    """Count the pings the engine's dialect makes from now on."""
    pings: list[int] = []
    with app.app_context():
        dialect = db.engine.dialect
        real = dialect.do_ping

        def counted(dbapi_connection):
            pings.append(1)
            return real(dbapi_connection)

        monkeypatch.setattr(dialect, "do_ping", counted)
    return pings


def _query(app) -> int:
    with app.app_context():
        try:
            return db.session.scalar(text("SELECT 1"))
        finally:
            db.session.remove()


def test_a_connection_given_back_just_now_is_not_pinged_one_idle_longer_is(app, monkeypatch):
    pings = _pings(app, monkeypatch)
    monkeypatch.setattr(extensions, "PING_IDLE_AFTER_S", 0.2)
    _query(app)
    before = len(pings)
    for _ in range(5):  # one transaction after another, as a drain's
        assert _query(app) == 1
    assert len(pings) == before
    time.sleep(0.3)
    assert _query(app) == 1
    assert len(pings) == before + 1


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="a server that drops connections: PostgreSQL only (SQLite has none)",
)
def test_a_connection_the_server_dropped_while_idle_is_replaced_before_use(app, monkeypatch):
    monkeypatch.setattr(extensions, "PING_IDLE_AFTER_S", 0.1)
    with app.app_context():
        db.engine.dispose()  # one connection in the pool: the one the server drops
        pid = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()  # back to the pool, still open
        killer = create_engine(db.engine.url, poolclass=NullPool)  # the server's admin, elsewhere
        with killer.begin() as other:
            assert other.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
    time.sleep(0.2)
    with app.app_context():
        try:
            assert db.session.scalar(text("SELECT pg_backend_pid()")) != pid  # no error: a new one
        finally:
            db.session.remove()
            db.engine.dispose()  # whatever happened, the next test starts from a sound pool
