"""How Hiremail logs in to a connected mailbox: its password, or an OAuth access token kept fresh.

An OAuth connection keeps its refresh token (in `secret`) and its current access token
(`access_secret`), both encrypted. `server_of` renews the access token shortly before it
expires, and gives the IMAP login a way to renew it once more should the server refuse it.
A renewal is committed at once: a provider that rotates refresh tokens has already forgotten
the old one, whatever the sync does next.
"""

from sqlalchemy import update

from webapp.extensions import db
from webapp.mail.sync import oauth
from webapp.mail.sync.imap import XOAUTH2, ErrorKind, MailboxError, Server
from webapp.mail.sync.vault import Vault, VaultError
from webapp.models import AuthMethod, MailboxConnection


def server_of(connection: MailboxConnection, vault: Vault, providers: dict[str, oauth.Provider]) -> Server:
    """Where the connection's mailbox is and how to log in; may renew (and commit) an OAuth token.

    Raises VaultError (a password no key opens) or MailboxError (an OAuth grant revoked, a
    provider down or no longer configured).
    """
    if connection.auth != AuthMethod.OAUTH2:
        return Server(
            connection.host,
            connection.port,
            connection.security,
            connection.username,
            vault.decrypt(connection.secret),
        )
    provider = provider_of(connection, providers)
    connection_id = connection.id
    token = _current_token(connection, vault)
    if token is None:
        token = renew(connection_id, vault, provider)

    def renew_now() -> str:
        return renew(connection_id, vault, provider)

    return Server(
        connection.host,
        connection.port,
        connection.security,
        connection.username,
        token,
        mechanism=XOAUTH2,
        renew=renew_now,
    )


def provider_of(connection: MailboxConnection, providers: dict[str, oauth.Provider]) -> oauth.Provider:
    """The connection's OAuth provider, as configured now; MailboxError when it no longer is."""
    provider = providers.get(connection.oauth_provider or "")
    if provider is None:
        raise MailboxError(
            ErrorKind.OAUTH,
            f"the provider {connection.oauth_provider!r} is not configured "
            f"(MAILBOX_OAUTH_{(connection.oauth_provider or '').upper()}_CLIENT_ID)",
        )
    return provider


def _current_token(connection: MailboxConnection, vault: Vault) -> str | None:
    """The stored access token while it has some minutes left; None when it must be renewed."""
    if connection.access_secret is None or oauth.needs_renewal(connection.access_expires_at):
        return None
    try:
        return vault.decrypt(connection.access_secret)
    except VaultError:  # its key was dropped: the refresh token gives a new one
        return None


def renew(connection_id: int, vault: Vault, provider: oauth.Provider) -> str:
    """A new access token from the refresh token, stored encrypted (with a rotated refresh token). Commits.

    Raises MailboxError: REVOKED when the provider refuses the grant, OAUTH when it fails otherwise.
    """
    connection = db.session.get(MailboxConnection, connection_id)
    if connection is None:
        raise MailboxError(ErrorKind.SERVER, "the mailbox was disconnected")
    try:
        tokens = oauth.refresh(provider, vault.decrypt(connection.secret))
    except oauth.OAuthError as exc:
        raise MailboxError(ErrorKind.REVOKED if exc.revoked else ErrorKind.OAUTH, exc.detail) from exc
    store(connection_id, tokens, vault)
    return tokens.access_token


def store(connection_id: int, tokens: oauth.Tokens, vault: Vault) -> None:
    """Keep new tokens, encrypted; the refresh token only when the provider gave a new one. Commits."""
    values = {
        "access_secret": vault.encrypt(tokens.access_token),
        "access_expires_at": tokens.expires_at,
    }
    if tokens.refresh_token:
        values["secret"] = vault.encrypt(tokens.refresh_token)
    db.session.execute(
        update(MailboxConnection).where(MailboxConnection.id == connection_id).values(**values)
    )
    db.session.commit()
