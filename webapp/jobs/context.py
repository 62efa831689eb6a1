"""Run job functions with the app context and a database session of their own."""

import functools

from flask import current_app, has_app_context

from webapp.extensions import db


def job(func):
    """Give the job an app context (creating the app if RQ runs it bare) and a clean session."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return _run(func, args, kwargs)
        from webapp import create_app

        with create_app().app_context():
            return _run(func, args, kwargs)

    return wrapper


def _run(func, args, kwargs):
    # A forked work-horse must not reuse the parent's pooled connections.
    db.engine.dispose(close=False)
    try:
        return func(*args, **kwargs)
    finally:
        db.session.remove()


def inbound_settings():
    from webapp.mail.classify import Settings

    return Settings(domain=current_app.config["INBOUND_DOMAIN"], secret=current_app.config["INBOUND_SECRET"])


def blob_store():
    from webapp.mail.storage import BlobStore

    return BlobStore(current_app.config["STORAGE_DIR"])


def configure_worker_database() -> None:
    """Worker processes commit recoverable state: on SQLite they may skip the per-commit fsync.

    A worker's commits (a classification, a "sent" status) lost to a power cut are found again:
    the sweep re-classifies, the reconciler marks an unfinished send "outcome unknown". The web
    and SMTP processes keep full durability: they answer "stored" only after a durable commit.
    """
    from sqlalchemy import event

    if db.engine.dialect.name == "sqlite":
        event.listen(db.engine, "connect", _relaxed_sqlite_sync)
        db.engine.dispose()  # connections made from now on get the setting


def _relaxed_sqlite_sync(dbapi_connection, connection_record):
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
