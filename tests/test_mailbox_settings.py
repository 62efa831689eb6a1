"""Settings > Mailbox: connect, test, see errors in place; the secret encrypted; the admin sees failures."""

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from tests.dom import parse
from tests.dovecot import DOVECOT, NOT_INSTALLED, running_dovecot
from tests.helpers import add_mailbox
from webapp.extensions import db
from webapp.mail.sync.vault import Vault, VaultError, vault_for
from webapp.models import MailboxConnection
from webapp.models.types import utcnow
from webapp.services import mailbox_vault

needs_dovecot = pytest.mark.skipif(DOVECOT is None, reason=NOT_INSTALLED)
RITA = "rita@team.test"
IMAP_PASSWORD = "imap-secret"
URL = "/settings/mailbox"


@pytest.fixture
def dovecot():
    with running_dovecot({RITA: IMAP_PASSWORD}) as server:
        yield server


def form(auth, server=None, **fields) -> dict:
    data = {
        "csrf_token": auth.csrf_token(URL),
        "host": server.host if server else "imap.example.test",
        "port": str(server.port) if server else "993",
        "security": "none",
        "username": RITA,
        "password": IMAP_PASSWORD,
        "incoming_folder": "INBOX",
        "sent_folder": "",
    }
    return data | fields


def field_error(html: str, name: str) -> str:
    found = parse(html).find(id=f"{name}-error")
    return found.text if found is not None else ""


def stored(app) -> MailboxConnection | None:
    with app.app_context():
        connection = db.session.scalar(select(MailboxConnection))
        if connection is not None:
            db.session.expunge(connection)
        return connection


def test_the_page_is_for_signed_in_users_and_linked_from_the_top_bar(client, auth, team):
    assert client.get(URL).status_code == 302
    auth.login(RITA)
    inbox = parse(client.get("/mail/inbox").get_data(as_text=True))
    assert inbox.find("a", href=URL) is not None  # "Your mailbox", beside the folders
    assert parse(client.get("/settings").get_data(as_text=True)).find("a", href=URL) is not None
    assert inbox.one("nav", id="folder-nav").find("a", href=URL) is not None  # reachable on a phone too
    page = parse(client.get(URL).get_data(as_text=True))
    assert page.find("input", name="host") is not None
    assert page.find(id="sync-state") is None  # nothing connected yet


def test_saving_needs_the_csrf_token(client, auth, team):
    auth.login(RITA)
    data = form(auth)
    del data["csrf_token"]
    assert client.post(URL, data=data).status_code == 400
    assert stored(client.application) is None


def test_missing_fields_are_shown_in_place(client, auth, team):
    auth.login(RITA)
    response = client.post(URL, data=form(auth, host="", username=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "host")
    assert field_error(html, "username")
    bad_host = client.post(URL, data=form(auth, host="https://imap.example.test/"))
    assert "without https://" in field_error(bad_host.get_data(as_text=True), "host")


@needs_dovecot
def test_a_wrong_password_says_so_next_to_the_password(client, auth, team, dovecot):
    auth.login(RITA)
    response = client.post(f"{URL}/test", data=form(auth, dovecot, password="wrong"))
    assert response.status_code == 422
    assert "refused the user name or password" in field_error(response.get_data(as_text=True), "password")
    saved = client.post(URL, data=form(auth, dovecot, password="wrong"))
    assert saved.status_code == 422
    assert stored(client.application) is None  # a mailbox that does not work is not saved


def test_an_unreachable_host_says_so_next_to_the_host(client, auth, team):
    auth.login(RITA)
    response = client.post(f"{URL}/test", data=form(auth, host="127.0.0.1", port="1"))
    assert response.status_code == 422
    assert "could not be reached" in field_error(response.get_data(as_text=True), "host")


@needs_dovecot
def test_a_tls_failure_says_so_next_to_security(client, auth, team, dovecot):
    auth.login(RITA)
    data = form(auth, dovecot, port=str(dovecot.tls_port), security="tls")
    response = client.post(f"{URL}/test", data=data)
    assert response.status_code == 422
    assert "secure connection failed" in field_error(response.get_data(as_text=True), "security")


@needs_dovecot
def test_test_connection_finds_the_sent_folder_and_saves_nothing(client, auth, team, dovecot):
    auth.login(RITA)
    response = client.post(f"{URL}/test", data=form(auth, dovecot))
    assert response.status_code == 200
    assert "Sent folder: Sent" in parse(response.get_data(as_text=True)).find(id="test-result").text
    assert stored(client.application) is None


@needs_dovecot
def test_saving_encrypts_the_password_and_queues_a_sync(client, auth, team, dovecot, redis):
    from webapp.queues import get_queue

    auth.login(RITA)
    response = client.post(URL, data=form(auth, dovecot))
    assert response.status_code == 302
    connection = stored(client.application)
    assert connection is not None
    assert IMAP_PASSWORD.encode() not in connection.secret
    with client.application.app_context():
        assert mailbox_vault().decrypt(connection.secret) == IMAP_PASSWORD
        assert len(get_queue("sync").get_job_ids()) == 1
    page = client.get(URL + "?done=saved").get_data(as_text=True)
    assert "Mailbox connected" in page
    # Changing a setting with the password left blank keeps the saved one.
    assert (
        client.post(URL, data=form(auth, dovecot, password="", incoming_folder="Archive")).status_code == 302
    )
    connection = stored(client.application)
    assert connection.incoming_folder == "Archive"
    with client.application.app_context():
        assert mailbox_vault().decrypt(connection.secret) == IMAP_PASSWORD


def test_a_failing_sync_shows_on_the_settings_page_and_the_queue_page(client, auth, team, make):
    ada = make.user("Ada Admin", role="admin")
    with client.application.app_context():
        add_mailbox(
            team.rita,
            last_error_kind="auth",
            last_error="AUTHENTICATIONFAILED",
            last_error_at=utcnow(),
            next_sync_at=utcnow(),
            failures=3,
        )
        db.session.commit()
    auth.login(RITA)
    page = parse(client.get(URL).get_data(as_text=True))
    assert "refused the user name or password" in page.find(id="sync-error").text
    assert client.get("/admin/queues").status_code == 404
    auth.logout()
    auth.login(ada.email)
    queues = parse(client.get("/admin/queues").get_data(as_text=True))
    row = queues.find(id="mailbox-errors").text
    assert RITA in row
    assert "refused the user name or password" in row


def test_disconnecting_stops_sync_and_keeps_the_mail(client, auth, team, make):
    message = make.message(candidate=team.alice, source="mailbox")
    with client.application.app_context():
        add_mailbox(team.rita)
        db.session.commit()
    auth.login(RITA)
    token = auth.csrf_token(URL)
    assert client.post(f"{URL}/disconnect", data={"csrf_token": token}).status_code == 302
    assert stored(client.application) is None
    with client.application.app_context():
        assert db.session.get(type(message), message.id) is not None
    assert client.post(f"{URL}/disconnect", data={"csrf_token": token}).status_code == 404


def test_keys_rotate_and_production_never_derives_one():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Vault([old]).encrypt("secret")
    rotated = Vault([new, old])
    assert rotated.decrypt(token) == "secret"
    assert Vault([new]).decrypt(rotated.rotate(token)) == "secret"
    with pytest.raises(VaultError):
        Vault([new]).decrypt(token)
    assert vault_for(None, secret_key="k", production=True) is None
    assert vault_for(None, secret_key="k", production=False) is not None
    assert vault_for(f"{new},{old}", secret_key="k", production=True).decrypt(token) == "secret"


def test_rotate_keys_re_encrypts_an_oauth_mailbox_s_tokens(app, bulk_team):
    from webapp.mail.sync.runner import rotate_secrets

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with app.app_context():
        unknown_key = Fernet.generate_key().decode()
        owners = [
            (bulk_team.rita, Vault([old]).encrypt("access")),
            (bulk_team.sam, Vault([unknown_key]).encrypt("x")),  # written with a key since dropped
        ]
        for owner, access in owners:
            add_mailbox(
                owner,
                host="imap.gmail.com",
                auth="oauth2",
                oauth_provider="google",
                secret=Vault([old]).encrypt("refresh"),
                access_secret=access,
                access_expires_at=utcnow(),
            )
        db.session.commit()
        assert rotate_secrets(Vault([new, old])) == (2, [])
        opened, dropped = db.session.scalars(select(MailboxConnection).order_by(MailboxConnection.id))
        assert Vault([new]).decrypt(opened.secret) == "refresh"
        assert Vault([new]).decrypt(opened.access_secret) == "access"
        # An access token no key opens is dropped (renewed from the refresh token at the next sync).
        assert Vault([new]).decrypt(dropped.secret) == "refresh"
        assert dropped.access_secret is None
        assert dropped.access_expires_at is None


def test_rotate_keys_re_encrypts_the_stored_passwords(app, team):
    from webapp.mail.sync.runner import rotate_secrets

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with app.app_context():
        add_mailbox(team.rita, secret=Vault([old]).encrypt("pw"))
        db.session.commit()
        assert rotate_secrets(Vault([new, old])) == (1, [])
        assert Vault([new]).decrypt(db.session.scalar(select(MailboxConnection.secret))) == "pw"
    # The app's own keys do not open it: the command says which connection, and fails.
    result = app.test_cli_runner().invoke(args=["mailbox", "rotate-keys"])
    assert result.exit_code == 1
    assert "connection(s)" in result.output
    with app.app_context():
        db.session.execute(update(MailboxConnection).values(secret=mailbox_vault().encrypt("pw")))
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["mailbox", "rotate-keys"])
    assert result.exit_code == 0
    assert "1 mailbox password(s) re-encrypted" in result.output
