"""Extensions, created unbound and bound to the app in create_app."""

import sqlite3
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
from sqlalchemy.orm import DeclarativeBase

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


# Set by `unsynced_commits`: this context's SQLite transactions commit without an fsync.
_UNSYNCED: ContextVar[bool] = ContextVar("sqlite_unsynced", default=False)


@contextmanager
def unsynced_commits() -> Iterator[None]:
    """Within, SQLite commits skip the fsync (synchronous=NORMAL): for writes that can be redone.

    In WAL mode such a commit survives a crash of the process; only a power cut (or an OS
    crash) may take back the last ones, never corrupts the database, and any later durable
    commit (the listener's next batch) syncs them too. The classify drain uses it: its
    classifications hold SQLite's one write lock, which the listener needs for every batch,
    and a lost one is classified again from the row and raw bytes the listener made durable.
    """
    token = _UNSYNCED.set(True)
    try:
        yield
    finally:
        _UNSYNCED.reset(token)


@event.listens_for(Engine, "begin")
def _sqlite_sync_level(conn):
    """Give each SQLite transaction the fsync level its context asks for (FULL unless unsynced_commits)."""
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
