"""worker.py's RQ worker: the classify drains run in the worker itself, every other job in a work-horse."""

import os

import pytest

from webapp.jobs.rq_worker import DrainInPlaceWorker
from webapp.queues import get_queue


def process_id() -> int:
    """A job: the process that ran it."""
    return os.getpid()


def test_a_classify_job_runs_in_the_worker_and_other_jobs_in_a_forked_work_horse(app, redis):
    with app.app_context():
        classify, default = get_queue("classify"), get_queue("default")
        in_place = classify.enqueue("tests.test_rq_worker.process_id")
        forked = default.enqueue("tests.test_rq_worker.process_id")
        worker = DrainInPlaceWorker([classify, default], connection=redis, in_place=(classify.name,))
        worker.work(burst=True)
        here = in_place.latest_result()
        there = forked.latest_result()
    assert here is not None
    assert here.return_value == os.getpid()
    assert there is not None
    assert there.return_value not in (None, os.getpid())


def database_backend() -> int:
    """A job: the PostgreSQL server process its database connection talks to."""
    from sqlalchemy import text

    from webapp.extensions import db

    try:
        return db.session.scalar(text("SELECT pg_backend_pid()"))
    finally:
        db.session.remove()


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
    reason="which server process a connection talks to: PostgreSQL only",
)
def test_a_forked_job_opens_its_own_connection_and_a_drain_keeps_the_workers(app, redis):
    from sqlalchemy import text

    from webapp.extensions import db

    with app.app_context():
        db.engine.dispose()  # the worker's pool: one connection, this one
        workers = db.session.scalar(text("SELECT pg_backend_pid()"))
        db.session.remove()  # back in the worker's pool, open
        classify, default = get_queue("classify"), get_queue("default")
        in_place = classify.enqueue("tests.test_rq_worker.database_backend")
        forked = default.enqueue("tests.test_rq_worker.database_backend")
        DrainInPlaceWorker([classify, default], connection=redis, in_place=(classify.name,)).work(burst=True)
        here, there = in_place.latest_result(), forked.latest_result()
        assert db.session.scalar(text("SELECT 1")) == 1  # the worker's connection still works
        db.session.remove()
    assert here is not None
    assert here.return_value == workers  # warm: the connection the worker already had
    assert there is not None
    assert there.return_value not in (None, workers)  # never the worker's socket, shared
