"""Run an RQ worker with the scheduler, inside the app context (python worker.py)."""

import logging
import sys

from rq import Worker

from webapp import create_app
from webapp.jobs import periodic
from webapp.queues import QUEUE_NAMES, get_queue, get_redis


def main(argv: list[str]) -> int:
    """Serve the queues (default: all, in priority order) until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    with app.app_context():
        names = argv or list(QUEUE_NAMES)
        queues = [get_queue(name) for name in QUEUE_NAMES if name in names]
        redis = get_redis()
        # Sweep up mail stored while Redis was down (and, later, lost scheduled sends).
        stop = periodic.start(app, redis, interval=float(app.config["PERIODIC_INTERVAL"]))
        try:
            Worker(queues, connection=redis).work(with_scheduler=True)
        finally:
            stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
