"""What the mailbox settings change: connect (or change) a mailbox, disconnect it."""

from sqlalchemy import select

from webapp.extensions import db
from webapp.mail.sync.imap import Server
from webapp.mail.sync.vault import Vault
from webapp.models import MailboxConnection
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
    connection = connection_of(user_id)
    if connection is not None and (connection.host, connection.username) != (server.host, server.username):
        db.session.delete(connection)
        db.session.flush()
        connection = None
    if connection is None:
        connection = MailboxConnection(user_id=user_id, connected_at=utcnow())
        db.session.add(connection)
    connection.host = server.host
    connection.port = server.port
    connection.security = server.security
    connection.username = server.username
    connection.secret = vault.encrypt(server.password)
    connection.incoming_folder = incoming_folder
    connection.sent_folder = sent_folder or None
    connection.next_sync_at = utcnow()
    connection.failures = 0
    connection.last_error = connection.last_error_kind = None
    connection.last_error_at = None
    db.session.flush()
    return connection


def disconnect(user_id: int) -> bool:
    """Stop syncing the user's mailbox: the connection and its secret go; imported mail stays. Flushes."""
    connection = connection_of(user_id)
    if connection is None:
        return False
    db.session.delete(connection)
    db.session.flush()
    return True
