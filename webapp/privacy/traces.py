"""What Redis may still hold of erased mail: the jobs that named its messages or its people."""

import logging
from collections.abc import Iterable

from rq.exceptions import NoSuchJobError
from rq.job import Job

from webapp.jobs.enqueue import CLASSIFY_JOB
from webapp.queues import all_queues, get_redis

log = logging.getLogger(__name__)


def forget_jobs(message_ids: Iterable[int], needles: Iterable[str]) -> int:
    """Delete queued, scheduled, deferred, failed and finished jobs about these messages, or whose
    description or error names one of `needles` (an address); how many. Redis down: 0, logged."""
    ids = set(message_ids)
    words = [n.lower() for n in needles if n]
    try:
        return _forget(ids, words)
    except Exception:  # the rows are gone already; a job left behind finds nothing to do
        log.warning("could not look for jobs of erased mail in Redis", exc_info=True)
        return 0


def _forget(ids: set[int], words: list[str]) -> int:
    redis = get_redis()
    removed = 0
    for queue in all_queues():
        registries = (
            queue.scheduled_job_registry,
            queue.deferred_job_registry,
            queue.failed_job_registry,
            queue.finished_job_registry,
            queue.canceled_job_registry,
        )
        job_ids = set(queue.get_job_ids())
        for registry in registries:
            job_ids |= set(registry.get_job_ids())
        for job_id in job_ids:
            try:
                job = Job.fetch(job_id, connection=redis)
            except NoSuchJobError:
                continue
            except Exception:  # a job RQ cannot load (its function is gone): judge by its id
                continue
            if _about(job, ids, words):
                job.delete(remove_from_queue=True)
                redis.delete(f"rq:results:{job_id}")
                removed += 1
    return removed


def _about(job: Job, ids: set[int], words: list[str]) -> bool:
    if job.func_name == CLASSIFY_JOB and job.args and job.args[0] in ids:
        return True
    try:
        result = job.latest_result()  # a failed job's traceback lives with its result
        error = (result.exc_string or "") if result is not None else ""
        text = " ".join(str(part) for part in (job.description, error, job.args, job.kwargs)).lower()
    except Exception:
        return False
    return any(word in text for word in words)
