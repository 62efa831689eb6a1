"""A mailbox's sync from start to end: connect, read new mail, copy sent mail, record how it went.

`sync_mailbox` is what the sync job runs; `test_server` is what "Test connection" runs. After
each run the connection row says when it synced last, the last error (kind and words) and when
to look again: the usual interval after a success, a growing backoff after failures, so a
server that is down is not hammered and sync resumes by itself once it is back.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select, update

from webapp.extensions import db
from webapp.mail.phrases import Phrase
from webapp.mail.sync import credentials, imap
from webapp.mail.sync.append import append_pending
from webapp.mail.sync.imap import ErrorKind, MailboxError, Server
from webapp.mail.sync.importer import Context, Report, SyncConflict, sync_folders
from webapp.mail.sync.oauth import Provider
from webapp.mail.sync.vault import Vault, VaultError
from webapp.models import MailboxConnection
from webapp.models.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Timing:
    """How long to wait for the server, and how often to sync (and the OAuth providers to renew tokens)."""

    timeout: float = 20.0
    interval: int = 120
    max_backoff: int = 3600
    ca_file: str | None = None
    oauth_providers: dict[str, Provider] = field(default_factory=dict)


def server_of(connection: MailboxConnection, vault: Vault, timing: Timing) -> Server:
    """Where the connection's mailbox is, with its password decrypted (or its OAuth token, renewed)."""
    return credentials.server_of(connection, vault, timing.oauth_providers)


def test_server(server: Server, timing: Timing) -> str | None:
    """Log in and look for the Sent folder; the Sent folder's name. Raises MailboxError."""
    conn = imap.connect(server, timeout=timing.timeout, ca_file=timing.ca_file)
    try:
        return imap.find_sent_folder(conn)
    except MailboxError:
        raise
    except Exception as exc:
        raise imap.network_error(exc) from exc
    finally:
        imap.logout(conn)


def sync_mailbox(connection_id: int, vault: Vault | None, ctx: Context, timing: Timing) -> Report | None:
    """Sync one mailbox now and record the outcome; None if it is gone (disconnected). Commits."""
    connection = db.session.get(MailboxConnection, connection_id)
    if connection is None:
        return None
    try:
        if vault is None:
            raise MailboxError(ErrorKind.SERVER, "MAILBOX_KEYS is not set: the password cannot be read")
        try:
            server = server_of(connection, vault, timing)
        except VaultError as exc:
            raise MailboxError(ErrorKind.SERVER, str(exc)) from exc
        conn = imap.connect(server, timeout=timing.timeout, ca_file=timing.ca_file)
        try:
            report = sync_folders(conn, connection, ctx)
            append_pending(conn, connection_id)
        except MailboxError:
            raise
        except (OSError, EOFError, imap.imaplib.IMAP4.error) as exc:
            raise imap.network_error(exc) from exc
        finally:
            imap.logout(conn)
    except MailboxError as exc:
        db.session.rollback()
        record_failure(connection_id, exc, timing)
        log.warning("mailbox %s sync failed: %s", connection_id, exc)
        return None
    except SyncConflict:  # another sync of this mailbox got there first: theirs stands
        db.session.rollback()
        log.warning("mailbox %s: another sync moved a folder on; this one stopped", connection_id)
        return None
    record_success(connection_id, timing, going_on=report.more)
    if report.imported or report.sent:
        log.info(
            "mailbox %s: %d imported, %d sent from the client", connection_id, report.imported, report.sent
        )
    return report


def record_success(connection_id: int, timing: Timing, going_on: bool = False) -> None:
    """Clear the error, look again after the usual interval; the progress too unless it goes on. Commits."""
    now = utcnow()
    progress = {} if going_on else {"sync_total": None, "sync_done": None}
    db.session.execute(
        update(MailboxConnection)
        .where(MailboxConnection.id == connection_id)
        .values(
            last_sync_at=now,
            last_error=None,
            last_error_kind=None,
            last_error_at=None,
            failures=0,
            next_sync_at=now + timedelta(seconds=timing.interval),
            **progress,
        )
    )
    db.session.commit()


def backoff(failures: int, timing: Timing) -> timedelta:
    """How long to wait after `failures` failures in a row: doubling from a minute, up to the max."""
    return timedelta(seconds=min(timing.max_backoff, 60 * 2 ** max(0, failures - 1)))


def record_failure(connection_id: int, error: MailboxError, timing: Timing) -> None:
    """Keep the error for the settings and queue pages; look again after a backoff. Commits."""
    now = utcnow()
    failures = (
        db.session.scalar(select(MailboxConnection.failures).where(MailboxConnection.id == connection_id))
        or 0
    ) + 1
    db.session.execute(
        update(MailboxConnection)
        .where(MailboxConnection.id == connection_id)
        .values(
            last_error_kind=error.kind,
            last_error=error.detail,
            last_error_at=now,
            failures=failures,
            next_sync_at=now + backoff(failures, timing),
            sync_total=None,  # no sync runs until the next try, which counts afresh
            sync_done=None,
        )
    )
    db.session.commit()


def due_connection_ids(now: datetime, limit: int = 500) -> list[int]:
    """Mailboxes whose next sync time has come (or never was set), longest waiting first."""
    return list(
        db.session.scalars(
            select(MailboxConnection.id)
            .where((MailboxConnection.next_sync_at.is_(None)) | (MailboxConnection.next_sync_at <= now))
            .order_by(MailboxConnection.next_sync_at.nulls_first(), MailboxConnection.id)
            .limit(limit)
        )
    )


def error_phrase(connection: MailboxConnection) -> Phrase | None:
    """What the connection's last error says to people; None when its last sync worked."""
    if not connection.last_error_kind:
        return None
    return imap.phrase_for(connection.last_error_kind, connection.last_error or "")


def failing_connections() -> list[MailboxConnection]:
    """Mailboxes whose last sync failed, for the admin queue page."""
    return list(
        db.session.scalars(
            select(MailboxConnection)
            .where(MailboxConnection.last_error_kind.is_not(None))
            .order_by(MailboxConnection.last_error_at.desc())
            .limit(200)
        )
    )


def rotate_secrets(vault: Vault) -> tuple[int, list[int]]:
    """Encrypt every stored mailbox password (OAuth: refresh and access token) with the vault's
    first key. Commits.

    Returns how many were re-encrypted, and the ids of the connections none of the keys opens.
    An access token no key opens is dropped: the next sync gets a new one with the refresh token.
    """
    done, unreadable = 0, []
    for connection in db.session.scalars(select(MailboxConnection)):
        try:
            connection.secret = vault.rotate(connection.secret)
            done += 1
        except VaultError:
            unreadable.append(connection.id)
        if connection.access_secret is not None:
            try:
                connection.access_secret = vault.rotate(connection.access_secret)
            except VaultError:
                connection.access_secret, connection.access_expires_at = None, None
    db.session.commit()
    return done, unreadable
