"""A user's own mailbox connected for sync (IMAP), and how far each of its folders was read."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.models.message import check_in
from webapp.models.types import UTCDateTime, utcnow


class Security(StrEnum):
    """How the connection to the IMAP server is protected."""

    TLS = "tls"  # implicit TLS (port 993)
    STARTTLS = "starttls"  # plain connection upgraded before login (port 143)
    NONE = "none"  # no encryption: for a server on the same host only


class AuthMethod(StrEnum):
    """How Hiremail logs in to the mailbox."""

    PASSWORD = "password"  # a password or app password (IMAP LOGIN)
    OAUTH2 = "oauth2"  # an OAuth 2.0 access token (SASL XOAUTH2), renewed with the refresh token


class FolderRole(StrEnum):
    """What a synced folder holds: mail received, or mail the user sent from their client."""

    INCOMING = "incoming"
    SENT = "sent"


class MailboxConnection(Model):
    """One IMAP mailbox: where it is, the secret (encrypted), and how its sync fares.

    A user's own mailbox (one each), or a shared one (jobs@, talent@) that an admin connected
    and named, whose mail reaches the users it is shared with (MailboxShare). A mailbox (host
    and user name) is connected once only.
    """

    __tablename__ = "mailbox_connections"
    __table_args__ = (
        CheckConstraint(check_in("security", Security), name="security"),
        CheckConstraint(check_in("auth", AuthMethod), name="auth"),
        UniqueConstraint("host", "username"),
        Index(
            "uq_mailbox_connections_personal",
            "user_id",
            unique=True,
            sqlite_where=text("NOT shared"),
            postgresql_where=text("NOT shared"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The owner; for a shared mailbox, the admin who connected it.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    shared: Mapped[bool] = mapped_column(default=False, server_default=false())
    # A shared mailbox's name, shown beside its mail and in compose's From (e.g. "Jobs").
    name: Mapped[str | None] = mapped_column(String(120))
    host: Mapped[str] = mapped_column(String(255))
    port: Mapped[int] = mapped_column()
    security: Mapped[str] = mapped_column(String(12), default=Security.TLS)
    username: Mapped[str] = mapped_column(String(255))
    # The password (OAuth: the refresh token), encrypted with MAILBOX_KEYS (webapp/mail/sync/vault.py).
    secret: Mapped[bytes] = mapped_column(LargeBinary)
    auth: Mapped[str] = mapped_column(String(12), default=AuthMethod.PASSWORD, server_default="password")
    # OAuth only: the provider's name (MAILBOX_OAUTH_<NAME>_...), the current access token
    # (encrypted too) and when it expires; it is renewed shortly before.
    oauth_provider: Mapped[str | None] = mapped_column(String(32))
    access_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incoming_folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    # None: the folder the server marks \Sent (SPECIAL-USE), found at each sync.
    sent_folder: Mapped[str | None] = mapped_column(String(255))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The sync's state: when it next runs, the last success, the last error and how many in a row.
    next_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_kind: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(default=0, server_default="0")
    imported_count: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    # While a sync runs (and between the parts of a long one): how many messages it reads, and
    # how many it has read ("Syncing: 3,200 of 10,000 messages"). None when no sync runs.
    sync_total: Mapped[int | None] = mapped_column(BigInteger)
    sync_done: Mapped[int | None] = mapped_column(BigInteger)

    user = relationship("User", lazy="joined")


class MailboxFolder(Model):
    """How far one folder of a connected mailbox was read: its UIDVALIDITY and the last UID synced.

    Written in the same transaction as the messages it imported: a crash never skips or repeats mail.
    """

    __tablename__ = "mailbox_folders"
    __table_args__ = (
        UniqueConstraint("connection_id", "name"),
        CheckConstraint(check_in("role", FolderRole), name="role"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("mailbox_connections.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(12))
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    # The folder's HIGHESTMODSEQ (CONDSTORE) when it was last read through: the same one
    # next time means nothing changed, and the folder is not even opened. None: no CONDSTORE.
    highestmodseq: Mapped[int | None] = mapped_column(BigInteger)
    synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MailboxAppend(Model):
    """A message sent from Hiremail that was copied into the user's Sent folder (APPEND), once."""

    __tablename__ = "mailbox_appends"

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("mailbox_connections.id", ondelete="CASCADE"), primary_key=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    appended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MailboxShare(Model):
    """A user a shared mailbox is shared with: its mail reaches their folders, compose offers it as From."""

    __tablename__ = "mailbox_shares"

    connection_id: Mapped[int] = mapped_column(
        ForeignKey("mailbox_connections.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
