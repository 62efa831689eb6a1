"""Extensions, created unbound and bound to the app in create_app."""

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase

from webapp.pgcursor import use_described_once

# Named constraints, so migrations can alter them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

# The models' base class. Flask-SQLAlchemy builds `db.Model` at run time, which a type checker
# cannot follow; it is a subclass of Base, so the checker is told Base.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record):
    """SQLite (the embedded default) is shared by web, worker and listener processes."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        # WAL: readers never wait for the writer; FULL keeps every commit durable (we answer
        # SMTP 250 after a commit). busy_timeout: a writer waits its turn instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "connect")
def _describe_once(dbapi_connection, connection_record):
    """PostgreSQL: cursors that describe each statement's columns once (webapp/pgcursor.py)."""
    use_described_once(dbapi_connection)


# A pooled connection used less than this long ago (seconds) is handed out without a ping.
PING_IDLE_AFTER_S = 1.0


def ping_when_idle(engine: Engine) -> None:
    """Make sure a pooled connection still works before handing it out, if it sat idle a while.

    SQLAlchemy's pool_pre_ping pings on every checkout, a round trip (and on PostgreSQL a
    statement of the server) for every transaction; the listener and the classify drains run
    one every few milliseconds. A connection given back within the last second is handed out
    as it is; one idle longer is pinged, and if the server went away meanwhile (a restart) it
    is replaced before anyone uses it: the pool tries again with a new connection.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _used_now(dbapi_connection, connection_record):
        connection_record.info["used_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, connection_record, connection_proxy):
        used_at = connection_record.info.get("used_at")
        if used_at is not None and time.monotonic() - used_at < PING_IDLE_AFTER_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError("the pooled connection no longer works") from exc


# Set by `unsynced_commits`: this context's transactions commit without waiting for a flush.
_UNSYNCED: ContextVar[bool] = ContextVar("sqlite_unsynced", default=False)


@contextmanager
def unsynced_commits() -> Iterator[None]:
    """Within, commits do not wait for the disk: for writes that can be redone.

    SQLite skips the fsync (synchronous=NORMAL): in WAL mode such a commit survives a crash of
    the process; only a power cut (or an OS crash) may take back the last ones, never corrupts
    the database, and any later durable commit (the listener's next batch) syncs them too.
    PostgreSQL commits with synchronous_commit off: a crash of the server may take back the
    last ones (up to three WAL writer rounds), in order, never corrupting anything.
    The classify drain uses it: its classifications hold SQLite's one write lock, which the
    listener needs for every batch, and a lost one is classified again from the row and raw
    bytes the listener made durable. So does a mailbox sync's batch (rows and the folder's
    last UID go or stay together; the server still has the mail).
    """
    token = _UNSYNCED.set(True)
    try:
        yield
    finally:
        _UNSYNCED.reset(token)


@event.listens_for(Engine, "begin")
def _sync_level(conn):
    """Give each transaction the durability its context asks for (flushed, unless unsynced_commits)."""
    if conn.dialect.name == "postgresql":
        if _UNSYNCED.get():
            # For this transaction only (SET LOCAL): it ends with the commit.
            conn.connection.dbapi_connection.execute("SET LOCAL synchronous_commit TO OFF")
        return
    if conn.dialect.name != "sqlite":
        return
    wanted = "NORMAL" if _UNSYNCED.get() else "FULL"
    pooled = conn.connection  # the pooled connection: its info lasts as long as the connection
    raw = pooled.dbapi_connection
    # Only before the driver's transaction starts: SQLite refuses the change inside one, and
    # SQLAlchemy's begin comes before the driver's own BEGIN (which waits for the first write).
    if pooled.info.get("synchronous", "FULL") != wanted and not raw.in_transaction:
        raw.execute(f"PRAGMA synchronous={wanted}")
        pooled.info["synchronous"] = wanted
