"""What the mailbox settings change: connect (or change) a mailbox, disconnect it."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.mail.sync.imap import Server
from webapp.mail.sync.oauth import Provider, Tokens
from webapp.mail.sync.vault import Vault
from webapp.models import AuthMethod, MailboxConnection
from webapp.models.types import utcnow


def connection_of(user_id: int) -> MailboxConnection | None:
    """The user's connected mailbox, if any."""
    return db.session.scalar(select(MailboxConnection).where(MailboxConnection.user_id == user_id))


def save(
    user_id: int, server: Server, incoming_folder: str, sent_folder: str | None, vault: Vault
) -> MailboxConnection:
    """Connect the user's mailbox, or change it; the password encrypted. Flushes.

    A different server or user name is another mailbox: what was read of the old one is forgotten
    (the folders' UIDs mean nothing there), and it is read from the start (no duplicates: the
    Message-ID check). Sync is due at once.
    """
    connection = _connection_for(user_id, server.host, server.username)
    connection.port = server.port
    connection.security = server.security
    connection.auth = AuthMethod.PASSWORD
    connection.secret = vault.encrypt(server.password)
    connection.oauth_provider = connection.access_secret = connection.access_expires_at = None
    connection.incoming_folder = incoming_folder
    connection.sent_folder = sent_folder or None
    _due_now(connection)
    db.session.flush()
    return connection


def save_oauth(
    user_id: int, provider: Provider, username: str, tokens: Tokens, vault: Vault
) -> MailboxConnection:
    """Connect the user's mailbox at an OAuth provider (or sign it in again); tokens encrypted. Flushes.

    Folders: the inbox, and the Sent folder the server marks (Gmail and Outlook both do).
    """
    connection = _connection_for(user_id, provider.imap_host, username)
    connection.port = provider.imap_port
    connection.security = provider.imap_security
    connection.auth = AuthMethod.OAUTH2
    connection.oauth_provider = provider.name
    connection.secret = vault.encrypt(tokens.refresh_token or "")
    connection.access_secret = vault.encrypt(tokens.access_token)
    connection.access_expires_at = tokens.expires_at
    if not connection.incoming_folder:
        connection.incoming_folder = "INBOX"
    _due_now(connection)
    db.session.flush()
    return connection


def _connection_for(user_id: int, host: str, username: str) -> MailboxConnection:
    """The user's connection to keep for this mailbox: theirs if it is the same one, else a new one."""
    connection = connection_of(user_id)
    if connection is not None and (connection.host, connection.username) != (host, username):
        db.session.delete(connection)
        db.session.flush()
        connection = None
    if connection is None:
        connection = MailboxConnection(user_id=user_id, connected_at=utcnow(), incoming_folder="INBOX")
        db.session.add(connection)
    connection.host = host
    connection.username = username
    return connection


def _due_now(connection: MailboxConnection) -> None:
    """A fresh start: sync at once, no error kept."""
    connection.next_sync_at = utcnow()
    connection.failures = 0
    connection.last_error = connection.last_error_kind = None
    connection.last_error_at = None


def disconnect(user_id: int) -> bool:
    """Stop syncing the user's mailbox: the connection and its secret go; imported mail stays. Flushes."""
    connection = connection_of(user_id)
    if connection is None:
        return False
    db.session.delete(connection)
    db.session.flush()
    return True
