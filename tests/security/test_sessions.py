"""Sessions the server can end: logout and a new password end every session and remember cookie of
the user (copies included); a remember cookie expires on the server and is new at every login; the
session is a new one at login."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditLog, User


@pytest.fixture
def rita(make):
    return make.user("Rita Recruiter")


def login(client, auth, email, remember=False):
    token = auth.csrf_token("/login")
    data = {"email": email, "password": "password123", "csrf_token": token}
    if remember:
        data["remember"] = "y"
    return client.post("/login", data=data)


def copy_cookies(app, source, names=("session", "remember_token")):
    """A second browser holding copies of `source`'s cookies (a stolen cookie, say)."""
    other = app.test_client()
    for name in names:
        cookie = source.get_cookie(name)
        if cookie is not None:
            other.set_cookie(name, cookie.value)
    return other


def signed_in(client) -> bool:
    return client.get("/mail/inbox").status_code == 200


def test_a_copied_session_cookie_stops_working_after_logout(app, client, auth, rita):
    login(client, auth, rita.email)
    thief = copy_cookies(app, client, names=("session",))
    assert signed_in(thief)
    auth.logout()
    assert not signed_in(client)
    assert not signed_in(thief)


def test_logout_ends_every_session_and_remember_cookie_of_the_user(app, client, auth, make, rita):
    login(client, auth, rita.email, remember=True)
    laptop = copy_cookies(app, client)
    phone = app.test_client()
    phone_auth = type(auth)(phone)
    login(phone, phone_auth, rita.email, remember=True)
    phone_remember_only = copy_cookies(app, phone, names=("remember_token",))
    assert signed_in(laptop)
    assert signed_in(phone)
    assert signed_in(phone_remember_only)
    auth.logout()
    for browser in (laptop, phone, phone_remember_only):
        assert not signed_in(browser)
    # Signing in again works, and only the new login counts.
    assert login(phone, phone_auth, rita.email).status_code == 302
    assert signed_in(phone)


def test_a_new_password_ends_every_session(app, client, auth, make, rita):
    from webapp.admin import operations

    login(client, auth, rita.email, remember=True)
    remembered = copy_cookies(app, client, names=("remember_token",))
    assert signed_in(remembered)
    with app.app_context():
        operations.reset_password(None, db.session.get(User, rita.id), "a new password 123")
        db.session.commit()
    assert not signed_in(client)
    assert not signed_in(remembered)


def test_a_remember_cookie_alone_signs_in_until_it_expires_on_the_server(
    app, client, auth, rita, monkeypatch
):
    response = login(client, auth, rita.email, remember=True)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token="))
    assert "Expires=" in cookie
    remembered = copy_cookies(app, client, names=("remember_token",))
    assert signed_in(remembered)
    # 31 days later the same cookie is refused, whatever the browser kept.
    assert app.config["REMEMBER_COOKIE_DURATION"] == timedelta(days=30)
    monkeypatch.setitem(app.config, "REMEMBER_COOKIE_DURATION", timedelta(seconds=-1))
    assert not signed_in(copy_cookies(app, client, names=("remember_token",)))


def test_the_remember_token_is_new_at_every_login(app, auth, rita):
    tokens = set()
    for _ in range(2):
        browser = app.test_client()
        login(browser, type(auth)(browser), rita.email, remember=True)
        tokens.add(browser.get_cookie("remember_token").value)
    assert len(tokens) == 2


def test_the_session_is_a_new_one_at_login(app, client, auth, rita):
    before = auth.csrf_token("/login")
    before_cookie = client.get_cookie("session").value
    login(client, auth, rita.email)
    assert client.get_cookie("session").value != before_cookie
    assert auth.csrf_token("/mail/inbox") != before  # nothing of the anonymous session survives


def test_a_session_of_a_bare_user_id_is_refused(app, client, rita):
    """A session naming only a user id (the format before sessions had versions) signs no one in."""
    with client.session_transaction() as session:
        session["_user_id"] = str(rita.id)
        session["_fresh"] = True
    assert not signed_in(client)


def test_logins_and_logouts_are_audited(app, client, auth, rita):
    login(client, auth, rita.email)
    auth.logout()
    with app.app_context():
        actions = db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["login", "logout"]
