"""worker.py's RQ worker: the classify drains run in the worker itself, every other job in a work-horse."""

import os

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
