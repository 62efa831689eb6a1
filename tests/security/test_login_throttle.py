"""Login throttling per account and per client address, with a clear "try again in N minutes";
every failed sign-in is logged and audited."""

import logging

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditLog


def _forget_failures(app):
    from webapp.queues import get_redis

    with app.app_context():
        conn = get_redis()
        for key in conn.scan_iter(match=f"{app.config['RQ_QUEUE_PREFIX']}login-failures:*"):
            conn.delete(key)


@pytest.fixture(autouse=True)
def real_limits(app, monkeypatch):
    """The production limits, and no failures counted yet. (Not the `redis` fixture: it keeps an
    app context pushed, and requests would share its `g`, the CSRF token included.)"""
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ACCOUNT", 5)
    monkeypatch.setitem(app.config, "LOGIN_MAX_FAILURES_PER_ADDRESS", 30)
    _forget_failures(app)
    yield
    _forget_failures(app)


@pytest.fixture
def rita(make):
    return make.user("Rita Recruiter")


def attempt(client, auth, email, password, address="198.51.100.7"):
    token = auth.csrf_token("/login")
    return client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )


def test_an_account_is_locked_after_five_failures_even_for_the_right_password(app, client, auth, rita):
    for _ in range(5):
        assert attempt(client, auth, rita.email, "guess").status_code == 422
    response = attempt(client, auth, rita.email, "password123")
    html = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in html
    assert int(response.headers["Retry-After"]) > 800
    assert client.get("/mail/inbox").status_code == 302  # not signed in
    # From another address too: the account is what is locked.
    assert attempt(client, auth, rita.email, "password123", address="203.0.113.9").status_code == 429


def test_an_unknown_account_is_locked_the_same_way(client, auth, rita):
    """The answer does not tell which accounts exist."""
    for _ in range(5):
        attempt(client, auth, "nobody@example.com", "guess")
    response = attempt(client, auth, "nobody@example.com", "guess")
    assert response.status_code == 429
    assert "Try again in 15 minutes." in response.get_data(as_text=True)


def test_an_address_is_locked_after_many_failures_across_accounts(app, client, auth, rita):
    app.config["LOGIN_MAX_FAILURES_PER_ADDRESS"] = 4
    for i in range(4):
        attempt(client, auth, f"user{i}@example.com", "guess")
    assert attempt(client, auth, rita.email, "password123").status_code == 429
    # Another address may still sign in to that account.
    assert attempt(client, auth, rita.email, "password123", address="203.0.113.9").status_code == 302


def test_a_success_forgets_the_accounts_failures(client, auth, rita):
    for _ in range(4):
        attempt(client, auth, rita.email, "guess")
    assert attempt(client, auth, rita.email, "password123").status_code == 302
    auth.logout()
    for _ in range(4):
        attempt(client, auth, rita.email, "guess")
    assert attempt(client, auth, rita.email, "password123").status_code == 302


def test_the_lock_ends_with_the_window(app, client, auth, rita):
    for _ in range(5):
        attempt(client, auth, rita.email, "guess")
    assert attempt(client, auth, rita.email, "password123").status_code == 429
    _forget_failures(app)  # what the expiry does after 15 minutes
    assert attempt(client, auth, rita.email, "password123").status_code == 302


def test_redis_down_does_not_stop_sign_in(app, client, auth, rita, monkeypatch):
    from redis import RedisError

    from webapp.auth import throttle

    def down():
        raise RedisError("down")

    monkeypatch.setattr(throttle, "get_redis", down)
    assert attempt(client, auth, rita.email, "guess").status_code == 422
    assert attempt(client, auth, rita.email, "password123").status_code == 302


def test_failed_sign_ins_are_logged_and_audited(app, client, auth, rita, caplog):
    with caplog.at_level(logging.WARNING, logger="webapp.auth.routes"):
        attempt(client, auth, rita.email, "guess")
        attempt(client, auth, "nobody@example.com", "guess")
    failures = [r for r in caplog.records if r.getMessage() == "login failed"]
    assert [(r.reason, r.client) for r in failures] == [
        ("wrong_password", "198.51.100.7"),
        ("unknown_account", "198.51.100.7"),
    ]
    with app.app_context():
        rows = db.session.scalars(
            select(AuditLog).where(AuditLog.action == "login_failed").order_by(AuditLog.id)
        ).all()
        assert [(r.target_id, r.details["email"], r.details["ip"]) for r in rows] == [
            (rita.id, rita.email, "198.51.100.7"),
            (None, "nobody@example.com", "198.51.100.7"),
        ]


def test_the_default_limits():
    from webapp.config import Config

    config = Config({"SECRET_KEY": "x", "INSTANCE_DIR": "/nonexistent"})
    assert (config.LOGIN_MAX_FAILURES_PER_ACCOUNT, config.LOGIN_MAX_FAILURES_PER_ADDRESS) == (5, 30)
    assert config.LOGIN_THROTTLE_WINDOW_S == 15 * 60
    assert config.REMEMBER_COOKIE_DURATION.days == 30


def test_the_lock_is_explained_in_french_too(client, auth, rita):
    for _ in range(5):
        attempt(client, auth, rita.email, "guess")
    token = auth.csrf_token("/login")
    response = client.post(
        "/login",
        data={"email": rita.email, "password": "password123", "csrf_token": token},
        headers={"Accept-Language": "fr"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert "Trop de connexions échouées. Réessayez dans 15 minutes." in response.get_data(as_text=True)
