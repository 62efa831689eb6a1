"""Login, logout, sessions, and login required everywhere but /login and /healthz."""

import pytest

# The webhook signs instead; the probes are public (/metrics checks its own token: tests/test_metrics.py).
PUBLIC = {"auth.login", "main.healthz", "main.readyz", "main.metrics", "static", "receiving.raw"}
# A shared CV link checks its own token (tests/test_shares.py).
PUBLIC |= {"privacy.shared_cv", "privacy.shared_file"}


@pytest.fixture
def rita(make):
    return make.user("Rita Recruiter")


def test_login_and_logout(client, auth, rita):
    response = auth.login(rita.email)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/mail/inbox").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/mail/inbox").status_code == 302


def test_wrong_password_shows_error_in_place(client, auth, rita):
    response = auth.login(rita.email, password="wrong")
    assert response.status_code == 422
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert client.get("/mail/inbox").status_code == 302


def test_email_is_case_insensitive(client, auth, rita):
    assert auth.login(rita.email.upper()).status_code == 302


def test_inactive_user_cannot_log_in(app, client, auth, rita):
    from webapp.extensions import db
    from webapp.models import User

    with app.app_context():
        db.session.get(User, rita.id).is_active_user = False
        db.session.commit()
    assert auth.login(rita.email).status_code == 422


def test_login_requires_csrf(client, rita):
    response = client.post("/login", data={"email": rita.email, "password": "password123"})
    assert response.status_code == 400


def test_logout_is_post_with_csrf(client, auth, rita):
    auth.login(rita.email)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/mail/sent", "/mail/sent"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_only_to_local_paths(client, auth, rita, target, expected):
    token = auth.csrf_token()
    response = client.post(
        "/login", data={"email": rita.email, "password": "password123", "csrf_token": token, "next": target}
    )
    assert response.headers["Location"] == expected


def test_session_cookie_flags(app, client, auth, rita):
    response = auth.login(rita.email)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_cookies_are_secure_outside_debug():
    from webapp.config import Config

    assert Config({"SECRET_KEY": "x"}).SESSION_COOKIE_SECURE is True
    assert Config({"SECRET_KEY": "x", "FLASK_DEBUG": "1"}).SESSION_COOKIE_SECURE is False


def test_every_page_requires_login(app, client):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = (
            rule.rule.replace("<slug>", "inbox")
            .replace("<int:thread_id>", "1")
            .replace("<int:attachment_id>", "1")
        )
        method = "GET" if "GET" in rule.methods else "POST"
        response = client.open(url, method=method)
        if method == "GET":
            assert response.status_code == 302, url
            assert response.headers["Location"].startswith("/login?next="), url
        else:
            assert response.status_code in (302, 400), url  # CSRF refuses before the login guard
        htmx = client.open(url, method=method, headers={"HX-Request": "true"})
        if method == "GET":
            assert htmx.status_code == 401, url
            assert htmx.headers["HX-Redirect"].startswith("/login"), url


def test_login_page_and_health_are_public(client):
    assert client.get("/login").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_login_redirects_back_to_next(client, auth, rita):
    response = client.get("/mail/sent")
    assert response.headers["Location"] == "/login?next=/mail/sent"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/mail/sent"' in page


def test_users_create_command(app):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=[
            "users",
            "create",
            "--email",
            "New@Team.test",
            "--name",
            "New Person",
            "--password",
            "long-enough-pw",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "new@mail.demo.test" in result.output or "new@" in result.output
    again = runner.invoke(
        args=["users", "create", "--email", "new@team.test", "--name", "Dup", "--password", "long-enough-pw"]
    )
    assert again.exit_code != 0
    assert "already exists" in again.output
    short = runner.invoke(
        args=["users", "create", "--email", "x@team.test", "--name", "X", "--password", "short"]
    )
    assert short.exit_code != 0
    assert "at least 8" in short.output
