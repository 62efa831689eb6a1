"""Run job functions with the app context and a database session of their own."""

import functools

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
    # A forked work-horse has dropped its parent's pooled connections already
    # (rq_worker.DrainInPlaceWorker.main_work_horse); a job run in the worker keeps them warm.
    try:
        return func(*args, **kwargs)
    finally:
        db.session.remove()
