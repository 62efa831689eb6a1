"""Gmail / Microsoft 365 style mailboxes: OAuth 2.0 sign-in (PKCE, state), IMAP XOAUTH2, token renewal.

Against a real Dovecot whose oauth2 passdb asks a small OAuth provider served by the test
(tests/oauth_provider.py) whether each access token is good: the whole way from the redirect
to the provider, the code exchanged, the sync over XOAUTH2, the renewal of an expired token,
to a revoked grant shown as an error to the user and to the admin.
"""

import dataclasses
import http.client
import urllib.parse
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import AuthActions
from tests.dom import parse
from tests.dovecot import DOVECOT, NOT_INSTALLED, mail, running_dovecot, sync
from tests.oauth_provider import CLIENT_ID, CLIENT_SECRET, OAuthServer
from webapp.extensions import db
from webapp.mail.read import folders
from webapp.mail.sync.oauth import Provider, providers_from_env
from webapp.models import MailboxConnection, Message, User
from webapp.models.types import utcnow
from webapp.services import mailbox_vault

needs_dovecot = pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)
RITA = "rita@team.test"
URL = "/settings/mailbox"
START = "/settings/mailbox/oauth/google"


@pytest.fixture
def provider_server():
    server = OAuthServer().start()
    yield server
    server.stop()


@pytest.fixture
def dovecot(provider_server):
    users = {RITA: "a-password-hiremail-never-sees"}
    with running_dovecot(users, oauth2_introspection=provider_server.introspection_url) as server:
        yield server


@pytest.fixture
def google(app, monkeypatch, provider_server, dovecot):
    """The "google" provider, pointed at the test's provider and Dovecot."""
    provider = Provider(
        name="google",
        label="Google (Gmail)",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        authorize_url=provider_server.authorize_url,
        token_url=provider_server.token_url,
        scopes="https://mail.google.com/",
        imap_host=dovecot.host,
        imap_port=dovecot.port,
        imap_security="none",
        extra="access_type=offline&prompt=consent",
        revoke_url=provider_server.revoke_url,
    )
    monkeypatch.setitem(app.config, "MAILBOX_OAUTH_PROVIDERS", {"google": provider})
    return provider


def subjects(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(Message.subject)))


def stored(app) -> MailboxConnection | None:
    with app.app_context():
        connection = db.session.scalar(select(MailboxConnection))
        if connection is not None:
            db.session.expunge(connection)
        return connection


def follow_authorize(location: str) -> str:
    """What a browser does at the provider (who approves at once): the redirect back, not followed."""
    url = urllib.parse.urlsplit(location)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        conn.request("GET", f"{url.path}?{url.query}")
        response = conn.getresponse()
        assert response.status == 302, response.read()
        return response.getheader("Location")
    finally:
        conn.close()


def sign_in(client, auth) -> tuple[dict[str, str], str]:
    """Settings > Mailbox > Connect with Google, up to the redirect back: (authorize query, callback URL)."""
    page = parse(client.get(URL).get_data(as_text=True))
    form = page.find("form", action=START)
    assert form is not None
    assert "Connect with Google" in form.text
    response = client.post(START, data={"csrf_token": auth.csrf_token(URL), "username": RITA})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://127.0.0.1:")
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    back = follow_authorize(location)
    return query, back


def callback_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.path}?{parts.query}"


@needs_dovecot
def test_sign_in_then_sync_over_xoauth2_renewal_and_a_revoked_grant(
    app, client, auth, team, make, redis, provider_server, dovecot, google
):
    provider = provider_server.provider
    auth.login(RITA)
    query, back = sign_in(client, auth)
    # The authorization asks for a code, with a PKCE S256 challenge, a state, offline access.
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert len(query["state"]) >= 32
    assert query["login_hint"] == RITA
    assert query["access_type"] == "offline"
    assert query["scope"] == "https://mail.google.com/"
    assert query["redirect_uri"] == "http://localhost/settings/mailbox/oauth/callback"

    response = client.get(callback_path(back))
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/settings/mailbox?done=saved")
    connection = stored(app)
    assert connection is not None
    assert (connection.auth, connection.oauth_provider, connection.username) == ("oauth2", "google", RITA)
    with app.app_context():
        refresh_token = mailbox_vault().decrypt(connection.secret)
        access_token = mailbox_vault().decrypt(connection.access_secret)
    assert refresh_token in provider.refresh
    assert access_token in provider.access
    # Encrypted at rest: neither token is in the row as written.
    assert refresh_token.encode() not in connection.secret
    assert access_token.encode() not in connection.access_secret
    page = parse(client.get(URL).get_data(as_text=True))
    assert "Google (Gmail)" in page.one(id="signed-in-with").text

    # The sync logs in with XOAUTH2 and imports the candidate's mail.
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice applies"))
    dovecot.deliver(RITA, mail("mum@family.test", RITA, "Sunday dinner"))
    assert sync(app, connection.id) == 1
    assert subjects(app) == ["Alice applies"]
    assert "method=XOAUTH2" in dovecot.log()
    assert provider.refreshes == 0

    # Near its expiry, the access token is renewed before use (and the refresh token rotated).
    with app.app_context():
        db.session.execute(
            update(MailboxConnection).values(access_expires_at=utcnow() + timedelta(minutes=1))
        )
        db.session.commit()
    provider.expire_access_tokens()
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice again"))
    assert sync(app, connection.id) == 1
    assert provider.refreshes == 1
    renewed = stored(app)
    assert renewed.access_expires_at > utcnow() + timedelta(minutes=30)
    with app.app_context():
        assert mailbox_vault().decrypt(renewed.secret) != refresh_token  # the rotated one kept

    # A token the server refuses while we thought it good (cut short): renewed once, sync goes on.
    provider.expire_access_tokens()
    dovecot.deliver(RITA, mail("alice@outside.test", RITA, "Alice thrice"))
    assert sync(app, connection.id) == 1
    assert provider.refreshes == 2
    assert stored(app).last_error_kind is None

    # The user revokes Hiremail's access at the provider: a clear error, here and for the admin.
    provider.revoke(RITA)
    assert sync(app, connection.id) == 0
    failed = stored(app)
    assert failed.last_error_kind == "revoked"
    assert failed.failures == 1
    page = parse(client.get(URL).get_data(as_text=True))
    said = page.one(id="sync-error").text
    assert "Access to this mailbox was withdrawn" in said
    assert "connect it again" in said
    ada = make.user("Ada Admin", role="admin")
    auth.logout()
    auth.login(ada.email)
    row = parse(client.get("/admin/queues").get_data(as_text=True)).one(id="mailbox-errors").text
    assert RITA in row
    assert "Access to this mailbox was withdrawn" in row
    assert subjects(app) == ["Alice again", "Alice applies", "Alice thrice"]


@needs_dovecot
def test_the_callback_exchanges_nothing_without_this_sessions_state(
    app, client, auth, team, provider_server, google
):
    auth.login(RITA)
    _query, back = sign_in(client, auth)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(back).query))["code"]
    forged = back.replace("state=", "state=x")
    refused = client.get(callback_path(forged), follow_redirects=True)
    assert "no longer valid" in parse(refused.get_data(as_text=True)).one(id="test-result").text
    # The flow is spent: the right state after a wrong one is refused too (no second try).
    again = client.get(callback_path(back), follow_redirects=True)
    assert "no longer valid" in parse(again.get_data(as_text=True)).one(id="test-result").text
    assert code in provider_server.provider.codes  # never exchanged
    assert stored(app) is None


@needs_dovecot
def test_a_callback_for_another_users_flow_is_refused(app, client, auth, team, make, provider_server, google):
    auth.login(RITA)
    _query, back = sign_in(client, auth)
    sam = make.user("Sam Recruiter")
    other = app.test_client()
    AuthActions(other).login(sam.email)
    # Sam was sent Rita's link: his session started no flow, so nothing is exchanged for him.
    response = other.get(callback_path(back), follow_redirects=True)
    assert "no longer valid" in parse(response.get_data(as_text=True)).one(id="test-result").text
    assert stored(app) is None


@needs_dovecot
def test_a_refused_sign_in_says_why_and_saves_nothing(app, client, auth, team, provider_server, google):
    auth.login(RITA)
    query, _back = sign_in(client, auth)
    denied = "/settings/mailbox/oauth/callback?" + urllib.parse.urlencode(
        {"error": "access_denied", "error_description": "The user said no", "state": query["state"]}
    )
    response = client.get(denied)
    assert response.status_code == 422
    assert "The user said no" in parse(response.get_data(as_text=True)).one(id="test-result").text
    assert stored(app) is None


@needs_dovecot
def test_starting_needs_the_csrf_token_and_a_configured_provider(app, client, auth, team, google):
    auth.login(RITA)
    assert client.post(START, data={"username": RITA}).status_code == 400
    token = auth.csrf_token(URL)
    assert client.post("/settings/mailbox/oauth/yahoo", data={"csrf_token": token}).status_code == 404


def test_providers_come_from_the_environment_with_google_and_microsoft_defaults():
    assert providers_from_env({}) == {}
    found = providers_from_env(
        {
            "MAILBOX_OAUTH_GOOGLE_CLIENT_ID": "g-id",
            "MAILBOX_OAUTH_GOOGLE_CLIENT_SECRET": "g-secret",
            "MAILBOX_OAUTH_MICROSOFT_CLIENT_ID": "m-id",
            "MAILBOX_OAUTH_MICROSOFT_TOKEN_URL": "https://login.example.test/token",
        }
    )
    google, microsoft = found["google"], found["microsoft"]
    assert google.token_url == "https://oauth2.googleapis.com/token"
    assert (google.imap_host, google.imap_port, google.scopes) == (
        "imap.gmail.com",
        993,
        "https://mail.google.com/",
    )
    assert microsoft.token_url == "https://login.example.test/token"
    assert "IMAP.AccessAsUser.All" in microsoft.scopes
    assert "offline_access" in microsoft.scopes
    assert microsoft.imap_host == "outlook.office365.com"
    assert "g-secret" not in repr(google)


@needs_dovecot
def test_an_admin_signs_a_shared_mailbox_in_and_its_mail_reaches_those_sharing_it(
    app, client, auth, team, make, redis, provider_server, dovecot, google
):
    jobs = "jobs@team.test"
    dovecot.add_user(jobs, "a-password-hiremail-never-sees")
    dovecot.deliver(jobs, mail("alice@outside.test", jobs, "Alice writes to jobs"))
    start = "/settings/shared-mailboxes/oauth/google"
    auth.login(RITA)  # not an admin: no shared mailbox of hers
    assert client.post(start, data={"csrf_token": auth.csrf_token(URL)}).status_code == 404
    auth.logout()
    ada = make.user("Ada Admin", role="admin")
    auth.login(ada.email)
    page = parse(client.get("/settings/shared-mailboxes").get_data(as_text=True))
    assert page.find("form", action=start) is not None
    response = client.post(
        start,
        data={
            "csrf_token": auth.csrf_token("/settings/shared-mailboxes"),
            "oauth-google-name": "Jobs",
            "oauth-google-username": jobs,
            "oauth-google-users": [str(team.rita.id)],
        },
    )
    assert response.status_code == 302
    back = follow_authorize(response.headers["Location"])
    response = client.get(callback_path(back))
    assert response.headers["Location"].endswith("/settings/shared-mailboxes?done=connected")
    connection = stored(app)
    assert (connection.shared, connection.name, connection.auth, connection.username) == (
        True,
        "Jobs",
        "oauth2",
        jobs,
    )
    assert sync(app, connection.id) == 1
    with app.app_context():
        rows, _ = folders.list_rows("inbox", db.session.get(User, team.rita.id))
        assert [row.message.subject for row in rows] == ["Alice writes to jobs"]


def connected(app, client, auth) -> tuple[str, str]:
    """Rita's mailbox signed in with the provider: its (refresh, access) tokens."""
    auth.login(RITA)
    _, back = sign_in(client, auth)
    assert client.get(callback_path(back)).status_code == 302
    connection = stored(app)
    with app.app_context():
        return mailbox_vault().decrypt(connection.secret), mailbox_vault().decrypt(connection.access_secret)


def disconnect(client, auth) -> str:
    """Settings > Mailbox > Disconnect; the notice of the page it lands on."""
    response = client.post(f"{URL}/disconnect", data={"csrf_token": auth.csrf_token(URL)})
    assert response.status_code == 302
    page = parse(client.get(callback_path(response.headers["Location"])).get_data(as_text=True))
    return " ".join(page.one("p", class_="notice-ok").text.split())


@needs_dovecot
def test_disconnecting_withdraws_the_grant_at_the_provider(app, client, auth, team, provider_server, google):
    refresh_token, access_token = connected(app, client, auth)
    provider = provider_server.provider
    assert provider.introspect({"token": access_token})["active"]

    said = disconnect(client, auth)

    assert stored(app) is None
    assert "Mailbox disconnected" in said
    assert "Hiremail's access to the account at Google (Gmail) is withdrawn too." in said
    assert provider.revocations == 1
    renewal = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "grant_type": "refresh_token"}
    assert provider.token(renewal | {"refresh_token": refresh_token})[0] == 400
    assert not provider.introspect({"token": access_token})["active"]


@needs_dovecot
@pytest.mark.parametrize(
    ("revoke_url", "expected"),
    [
        ("", "Google (Gmail) does not let Hiremail withdraw its own access"),
        ("http://127.0.0.1:9/revoke", "Google (Gmail) could not be reached to withdraw Hiremail's access"),
    ],
)
def test_a_grant_not_withdrawn_says_where_to_remove_it(
    app, client, auth, team, provider_server, google, monkeypatch, revoke_url, expected
):
    refresh_token, _ = connected(app, client, auth)
    elsewhere = dataclasses.replace(google, revoke_url=revoke_url)
    monkeypatch.setitem(app.config, "MAILBOX_OAUTH_PROVIDERS", {"google": elsewhere})

    said = disconnect(client, auth)

    assert stored(app) is None  # disconnected all the same
    assert expected in said
    assert "remove Hiremail in the account's security settings there" in said
    assert refresh_token in provider_server.provider.refresh  # still good there: the user must act
