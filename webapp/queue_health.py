"""What the queues hold and who serves them: for /readyz, /metrics, the admin page and CLI.

Everything is read from Redis through our prefixed queues (RQ_QUEUE_PREFIX), so two
deployments or test runs sharing a Redis never see each other's jobs or workers.
"""

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import current_app
from rq import Queue, Worker
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from webapp.queues import QUEUE_NAMES, get_queue, get_redis


@dataclass
class QueueState:
    """One queue: jobs waiting, scheduled, running and failed, and its live workers."""

    name: str
    queued: int
    scheduled: int
    started: int
    failed: int
    workers: list[str] = field(default_factory=list)  # names of the workers seen recently


@dataclass
class FailedJob:
    """A job that ended in an exception, as an operator needs to see it."""

    id: str
    queue: str
    func_name: str
    args: str
    ended_at: datetime | None
    error: str  # the traceback (its last line says what happened)

    @property
    def error_line(self) -> str:
        """The exception's own line, the last non-empty one of the traceback."""
        lines = [line for line in self.error.splitlines() if line.strip()]
        return lines[-1] if lines else ""


# A running job's worker refreshes its heartbeat every 30 s (RQ's job monitoring interval):
# one silent for longer than this is dead, whatever RQ's started registry still says.
JOB_SILENT_AFTER = timedelta(seconds=45)


def running_job_ids(queue: Queue, now: datetime | None = None) -> set[str]:
    """Ids of the jobs of `queue` that run in a live worker.

    RQ's started registry keeps a dead worker's job for up to 90 s more (its last heartbeat's
    time to live), and longer without cleanup: a job counts as running only while its worker
    still beats, and, when the worker ran on this host, while its process exists.
    """
    now = now or datetime.now(UTC)
    ids = [job_id for job_id, _ in StartedJobRegistry(queue=queue).get_job_and_execution_ids(cleanup=True)]
    running = set()
    for job in Job.fetch_many(ids, connection=queue.connection):
        if job is None or job.last_heartbeat is None or now - _aware(job.last_heartbeat) > JOB_SILENT_AFTER:
            continue
        if job.worker_name and not _worker_alive(queue, job.worker_name):
            continue
        running.add(job.id)
    return running


def _worker_alive(queue: Queue, name: str) -> bool:
    worker = Worker.find_by_key(Worker.redis_worker_namespace_prefix + name, connection=queue.connection)
    if worker is None:
        return False
    if worker.hostname == socket.gethostname() and worker.pid:
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process of that number: alive
            return True
    return True


def periodic_heartbeat_key(prefix: str) -> str:
    """The Redis key a live periodic process refreshes every round (its value: the time, ISO 8601)."""
    return f"hiremail:{prefix}periodic-heartbeat"


def last_periodic_beat() -> datetime | None:
    """When a periodic process (sweep, reconciler) last said it was alive; None: not in three rounds."""
    value = get_redis().get(periodic_heartbeat_key(current_app.config["RQ_QUEUE_PREFIX"]))
    if not value:
        return None
    return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)


def queue_states(now: datetime | None = None) -> list[QueueState]:
    """The state of each of our queues, in the order workers serve them."""
    return [_state(get_queue(name), name, now or datetime.now(UTC)) for name in QUEUE_NAMES]


def _state(queue: Queue, name: str, now: datetime) -> QueueState:
    return QueueState(
        name=name,
        queued=queue.count,
        scheduled=ScheduledJobRegistry(queue=queue).count,
        started=StartedJobRegistry(queue=queue).count,
        failed=FailedJobRegistry(queue=queue).count,
        workers=recent_workers(queue, now),
    )


def live_workers(now: datetime | None = None) -> dict[str, int]:
    """How many workers seen recently serve each queue: /readyz's question, without counting jobs."""
    now = now or datetime.now(UTC)
    return {name: len(recent_workers(get_queue(name), now)) for name in QUEUE_NAMES}


def recent_workers(queue: Queue, now: datetime) -> list[str]:
    """Names of the workers serving `queue` seen recently (an idle one checks in every WORKER_TTL - 15 s)."""
    max_age = timedelta(seconds=current_app.config["WORKER_TTL"] + 60)
    return sorted(
        worker.name
        for worker in Worker.all(queue=queue)
        if worker.last_heartbeat is not None and now - _aware(worker.last_heartbeat) <= max_age
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def failed_jobs(limit: int = 100) -> list[FailedJob]:
    """The latest failed jobs of every queue, newest first, at most `limit`."""
    found = []
    for name in QUEUE_NAMES:
        queue = get_queue(name)
        registry = FailedJobRegistry(queue=queue)
        ids = registry.get_job_ids(0, limit - 1, desc=True)
        for job in Job.fetch_many(ids, connection=queue.connection):
            if job is not None:
                found.append(_failed(job, name))
    found.sort(key=lambda job: job.ended_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return found[:limit]


def _failed(job: Job, queue_name: str) -> FailedJob:
    result = job.latest_result()
    error = (result.exc_string if result is not None else None) or ""
    try:
        func_name, args = job.func_name or "?", ", ".join(repr(arg) for arg in job.args)
    except Exception:  # a job whose payload no longer loads: still listed, to be requeued or left
        func_name, args = "?", "?"
    return FailedJob(
        id=job.id,
        queue=queue_name,
        func_name=func_name,
        args=args,
        ended_at=_aware(job.ended_at) if job.ended_at else None,
        error=error,
    )


def requeue(job_id: str) -> bool:
    """Put a failed job of ours back in its queue; False if it is not among our failed jobs."""
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(queue=get_queue(name))
        if job_id in registry:
            try:
                registry.requeue(job_id)
            except (InvalidJobOperation, NoSuchJobError):  # another admin was quicker, or it expired
                return False
            return True
    return False


def requeue_all() -> int:
    """Put every failed job of ours back in its queue; returns how many."""
    count = 0
    for name in QUEUE_NAMES:
        registry = FailedJobRegistry(queue=get_queue(name))
        for job_id in registry.get_job_ids():
            try:
                registry.requeue(job_id)
                count += 1
            except (InvalidJobOperation, NoSuchJobError):
                continue
    return count
