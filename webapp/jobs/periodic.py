"""Periodic duties of the workers (inbound sweep, send reconciler, retention, due
mailbox syncs), one worker at a time.

The periodic process outlives any outage: a round that fails (Redis or the database down) is
logged and tried again after a pause that grows up to the interval. Each round it also writes
a heartbeat in Redis, which /readyz reads: a periodic process that died or hangs shows there.
"""

import logging
import time
from datetime import UTC, datetime

from redis import Redis

from webapp import create_app
from webapp.config import Config
from webapp.jobs.classify import sweep_unclassified
from webapp.jobs.retention import queue_retention
from webapp.jobs.send import reconcile_job
from webapp.jobs.sync import schedule_syncs
from webapp.observability import configure_logging
from webapp.queue_health import periodic_heartbeat_key
from webapp.queues import get_redis

log = logging.getLogger(__name__)
# After a failed round, the next try comes this soon, doubling up to the interval.
FIRST_RETRY_S = 1.0


def run_due(app, redis: Redis, interval: float) -> bool:
    """Run the periodic jobs once if no other worker did in the last `interval` seconds."""
    # SET NX EX: with N workers, exactly one wins each interval.
    lock = f"hiremail:{app.config['RQ_QUEUE_PREFIX']}periodic-lock"
    if not redis.set(lock, "1", nx=True, ex=max(1, int(interval) - 1)):
        return False
    with app.app_context():
        for duty in (sweep_unclassified, reconcile_job, queue_retention, schedule_syncs):
            try:
                duty()
            except Exception:  # the next round tries again; the worker must not die for this
                log.exception("periodic %s failed", duty.__name__)
    return True


def beat(redis: Redis, prefix: str, interval: float) -> None:
    """Say this periodic process is alive; the key outlives three missed rounds, then /readyz fails."""
    redis.set(periodic_heartbeat_key(prefix), datetime.now(UTC).isoformat(), ex=max(1, int(3 * interval) + 5))


def run_forever(interval: float, config=None) -> None:
    """The periodic process: its own app, Redis and database connections; never dies of an outage."""
    if config is None:
        config = Config()
        configure_logging(config.LOG_LEVEL, config.LOG_FORMAT)
    app = create_app(config)
    prefix = app.config["RQ_QUEUE_PREFIX"]
    with app.app_context():
        redis = get_redis()
    pause, failures = 0.0, 0
    try:
        while True:
            time.sleep(pause)
            try:
                beat(redis, prefix, interval)
                run_due(app, redis, interval)
                pause, failures = interval, 0
            except Exception:  # Redis down, most likely: keep trying, a little less often each time
                pause = min(interval, FIRST_RETRY_S * 2**failures)
                failures += 1
                log.exception("periodic round failed; trying again in %.0f s", pause)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group
        return
