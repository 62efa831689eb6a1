"""Periodic duties of the workers (inbound sweep, send reconciler), one worker at a time."""

import logging
import threading

from redis import Redis

log = logging.getLogger(__name__)


def run_due(app, redis: Redis, interval: float) -> bool:
    """Run the periodic jobs once if no other worker did in the last `interval` seconds."""
    # SET NX EX: with N workers, exactly one wins each interval.
    lock = f"hiremail:{app.config['RQ_QUEUE_PREFIX']}periodic-lock"
    if not redis.set(lock, "1", nx=True, ex=max(1, int(interval) - 1)):
        return False
    from webapp.jobs.inbound import sweep_unclassified
    from webapp.jobs.send import reconcile_job

    with app.app_context():
        for duty in (sweep_unclassified, reconcile_job):
            try:
                duty()
            except Exception:  # the next round tries again; the worker must not die for this
                log.exception("periodic %s failed", duty.__name__)
    return True


def start(app, redis: Redis, interval: float = 60.0) -> threading.Event:
    """Start the periodic loop in a daemon thread; set the returned event to stop it."""
    stop = threading.Event()

    def loop():
        while not stop.wait(interval):
            run_due(app, redis, interval)

    threading.Thread(target=loop, name="hiremail-periodic", daemon=True).start()
    return stop
