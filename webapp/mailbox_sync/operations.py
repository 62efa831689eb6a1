"""What the mailbox settings change: connect (or change) a mailbox, disconnect it."""

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, insert, select

from webapp.extensions import db
from webapp.mail.sync import oauth
from webapp.mail.sync.imap import Server
from webapp.mail.sync.oauth import Provider, Tokens
from webapp.mail.sync.vault import Vault, VaultError
from webapp.models import AuthMethod, MailboxConnection, MailboxShare, User
from webapp.models.types import utcnow

log = logging.getLogger(__name__)


class MailboxTaken(Exception):
    """This mailbox (server and user name) is connected already: as someone's own, or shared."""

    def __init__(self, other: MailboxConnection):
        super().__init__(f"mailbox {other.username} at {other.host} is connected already")
        self.other = other


def connection_of(user_id: int) -> MailboxConnection | None:
    """The user's own connected mailbox, if any (not the shared ones they connected)."""
    return db.session.scalar(
        select(MailboxConnection).where(
            MailboxConnection.user_id == user_id, MailboxConnection.shared.is_(False)
        )
    )


def check_free(host: str, username: str, keep: MailboxConnection | None) -> None:
    """Raise MailboxTaken when another connection reads this mailbox (letter case aside):
    a mailbox is connected once, or its mail would come in twice."""
    other = db.session.scalar(
        select(MailboxConnection).where(
            func.lower(MailboxConnection.host) == host.lower(),
            func.lower(MailboxConnection.username) == username.lower(),
            MailboxConnection.id != (keep.id if keep is not None else -1),
        )
    )
    if other is not None:
        raise MailboxTaken(other)


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
    """The user's connection to keep for this mailbox: theirs if it is the same one, else a new one.

    Raises MailboxTaken when another connection reads this mailbox.
    """
    connection = connection_of(user_id)
    check_free(host, username, connection)
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


@dataclass(frozen=True)
class Grant:
    """The OAuth grant a disconnected mailbox held: withdrawn at its provider after the commit."""

    provider: Provider
    refresh_token: str = field(repr=False)


def grant_of(connection: MailboxConnection | None, providers: dict[str, Provider], vault: Vault | None):
    """The OAuth grant this connection holds, if any and if our keys still open it (read it
    before deleting the connection)."""
    if connection is None or connection.auth != AuthMethod.OAUTH2 or vault is None:
        return None
    provider = providers.get(connection.oauth_provider or "")
    if provider is None:
        return None
    try:
        return Grant(provider, vault.decrypt(connection.secret))
    except VaultError:
        return None


def withdraw(grant: Grant | None) -> str | None:
    """Revoke a disconnected mailbox's grant at its provider: "revoked", "manual" (the provider
    has no revocation endpoint: the user removes it in their account) or "failed"; None for a
    mailbox signed in with a password. Call it after the commit: it waits on the network."""
    if grant is None:
        return None
    try:
        return "revoked" if oauth.revoke(grant.provider, grant.refresh_token) else "manual"
    except oauth.OAuthError as refused:
        log.warning(
            "could not revoke the %s grant of a disconnected mailbox: %s", grant.provider.name, refused
        )
        return "failed"


def disconnect(user_id: int) -> bool:
    """Stop syncing the user's mailbox: the connection and its secret go; imported mail stays. Flushes."""
    connection = connection_of(user_id)
    if connection is None:
        return False
    db.session.delete(connection)
    db.session.flush()
    return True


def shared_connections() -> list[MailboxConnection]:
    """The shared mailboxes, by name."""
    return list(
        db.session.scalars(
            select(MailboxConnection)
            .where(MailboxConnection.shared.is_(True))
            .order_by(MailboxConnection.name)
        )
    )


def connect_shared(
    admin_id: int, name: str, server: Server, incoming_folder: str, user_ids: list[int], vault: Vault
) -> MailboxConnection:
    """Connect a shared mailbox (password encrypted) and share it with these users. Flushes.

    Raises MailboxTaken when the mailbox is connected already (someone's own, or shared).
    """
    return _add_shared(
        admin_id,
        name,
        user_ids,
        host=server.host,
        port=server.port,
        security=server.security,
        username=server.username,
        auth=AuthMethod.PASSWORD,
        secret=vault.encrypt(server.password),
        incoming_folder=incoming_folder,
    )


def share(connection_id: int, user_ids: list[int]) -> None:
    """Share the mailbox with exactly these (active) users. Flushes.

    Mail already synced keeps its recipients; mail synced from now on reaches the new list.
    """
    wanted = set(
        db.session.scalars(select(User.id).where(User.id.in_(user_ids), User.is_active_user.is_(True)))
    )
    db.session.execute(delete(MailboxShare).where(MailboxShare.connection_id == connection_id))
    if wanted:
        db.session.execute(
            insert(MailboxShare), [{"connection_id": connection_id, "user_id": u} for u in sorted(wanted)]
        )
    db.session.flush()


def disconnect_shared(connection_id: int) -> bool:
    """Stop syncing a shared mailbox: it, its secret and its shares go; its mail stays. Flushes."""
    connection = db.session.get(MailboxConnection, connection_id)
    if connection is None or not connection.shared:
        return False
    db.session.delete(connection)
    db.session.flush()
    return True


def connect_shared_oauth(
    admin_id: int,
    name: str,
    provider: Provider,
    username: str,
    tokens: Tokens,
    user_ids: list[int],
    vault: Vault,
) -> MailboxConnection:
    """Connect a shared mailbox signed in at an OAuth provider (tokens encrypted), shared with
    these users. Flushes. Raises MailboxTaken when the mailbox is connected already."""
    return _add_shared(
        admin_id,
        name,
        user_ids,
        host=provider.imap_host,
        port=provider.imap_port,
        security=provider.imap_security,
        username=username,
        auth=AuthMethod.OAUTH2,
        oauth_provider=provider.name,
        secret=vault.encrypt(tokens.refresh_token or ""),
        access_secret=vault.encrypt(tokens.access_token),
        access_expires_at=tokens.expires_at,
        incoming_folder="INBOX",
    )


def _add_shared(
    admin_id: int, name: str, user_ids: list[int], *, host: str, username: str, **fields: Any
) -> MailboxConnection:
    """A new shared mailbox on this server, with the auth fields (method, secrets, folder) given,
    due at once and shared with these users. Flushes. Raises MailboxTaken when it is connected already."""
    check_free(host, username, None)
    connection = MailboxConnection(
        user_id=admin_id,
        shared=True,
        name=name,
        connected_at=utcnow(),
        host=host,
        username=username,
        **fields,
    )
    _due_now(connection)
    db.session.add(connection)
    db.session.flush()
    share(connection.id, user_ids)
    return connection
