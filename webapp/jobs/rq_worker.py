"""The RQ worker `worker.py` runs: a forked work-horse for each job, but the classify drains in place.

A drain is one job that classifies any number of messages; forked, each one started cold: a
new database connection (and, on PostgreSQL, a new server process with empty caches and no
prepared statements), its statements compiled again, Babel's month names and the parser's
patterns loaded again, all dropped when it ended. Mail arriving a few messages at a time
starts a drain every second or so. Run in the worker itself, they stay warm.

A drain is safe in place: it bounds each message's time itself (SIGALRM, inside RQ's own
timeout), and if one kills the worker the supervisor starts it again and the claims it held
go stale and are taken again, as when a work-horse dies.
"""

from flask import has_app_context
from rq import Worker
from rq.job import Job
from rq.queue import Queue
from rq.worker import WorkerStatus

from webapp.extensions import db


class DrainInPlaceWorker(Worker):
    """RQ's forking worker, except for jobs of `in_place` queues, performed in this process."""

    def __init__(self, *args, in_place: tuple[str, ...] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.in_place = frozenset(in_place)  # full queue names (with the prefix)
        self._in_place_job = False

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Perform the job here if its queue is in place (as RQ's SimpleWorker), else in a work-horse."""
        if queue.name not in self.in_place:
            super().execute_job(job, queue)
            return
        self._in_place_job = True
        try:
            self.prepare_execution(job)
            self.perform_job(job, queue)
            self.set_state(WorkerStatus.IDLE)
        finally:
            self._in_place_job = False

    def main_work_horse(self, job: Job, queue: Queue) -> None:
        """In the forked work-horse: leave the worker's pooled connections to the worker, then work."""
        if has_app_context():  # worker.py serves inside the app's context, which the fork inherits
            db.engine.dispose(close=False)  # forgotten here, not closed: they are the worker's
        super().main_work_horse(job, queue)

    def get_heartbeat_ttl(self, job: Job) -> int:
        """No heartbeat comes while a job runs in place: the worker's lasts the job's whole timeout."""
        if not self._in_place_job:
            return super().get_heartbeat_ttl(job)
        return int(job.timeout or self.job_monitoring_interval) + 60
