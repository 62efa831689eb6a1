"""Run job functions with the app context and a database session of their own."""

import functools
import os

from flask import has_app_context

from webapp import create_app
from webapp.extensions import db


def job(func):
    """Give the job an app context (creating the app if RQ runs it bare) and a clean session."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        if has_app_context():
            return _run(func, args, kwargs)
        with create_app().app_context():
            return _run(func, args, kwargs)

    return wrapper


def _run(func, args, kwargs):
    _own_connections()
    try:
        return func(*args, **kwargs)
    finally:
        db.session.remove()


# The process each engine's pool was last used in (by id of the engine).
_POOL_PID: dict[int, int] = {}


def _own_connections() -> None:
    """A forked work-horse must not reuse its parent's pooled connections; a job run in place keeps them."""
    engine, pid = db.engine, os.getpid()
    if _POOL_PID.get(id(engine)) != pid:
        engine.dispose(close=False)
        _POOL_PID[id(engine)] = pid
