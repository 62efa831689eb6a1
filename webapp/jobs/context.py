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
