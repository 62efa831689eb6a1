"""Periodic duties of the workers (inbound sweep, send reconciler, due mailbox syncs), one at a time."""

import logging
import multiprocessing
import time
from multiprocessing.process import BaseProcess

from redis import Redis

from webapp import create_app
from webapp.config import Config
from webapp.jobs.classify import sweep_unclassified
from webapp.jobs.send import reconcile_job
from webapp.jobs.sync import schedule_syncs
from webapp.observability import configure_logging
from webapp.queues import get_redis

log = logging.getLogger(__name__)


def run_due(app, redis: Redis, interval: float) -> bool:
    """Run the periodic jobs once if no other worker did in the last `interval` seconds."""
    # SET NX EX: with N workers, exactly one wins each interval.
    lock = f"hiremail:{app.config['RQ_QUEUE_PREFIX']}periodic-lock"
    if not redis.set(lock, "1", nx=True, ex=max(1, int(interval) - 1)):
        return False
    with app.app_context():
        for duty in (sweep_unclassified, reconcile_job, schedule_syncs):
            try:
                duty()
            except Exception:  # the next round tries again; the worker must not die for this
                log.exception("periodic %s failed", duty.__name__)
    return True


def _loop(interval: float) -> None:
    """The periodic process: its own app, Redis and database connections."""
    config = Config()
    configure_logging(config.LOG_LEVEL, config.LOG_FORMAT)
    app = create_app(config)
    with app.app_context():
        redis = get_redis()
    while True:
        time.sleep(interval)
        run_due(app, redis, interval)


def start(interval: float = 60.0) -> BaseProcess:
    """Start the periodic loop in a separate (spawned) process; terminate it to stop.

    Not a thread: RQ forks a work-horse per job, and a fork taken while a thread holds a
    database or connection-pool lock leaves the child waiting for that lock forever.
    """
    process = multiprocessing.get_context("spawn").Process(
        target=_loop, args=(interval,), name="hiremail-periodic", daemon=True
    )
    process.start()
    return process
