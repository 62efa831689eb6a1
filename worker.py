"""Run an RQ worker with the scheduler, inside the app context.

    python worker.py [--burst] [queue ...]

Serves the queues (default: all, in priority order); --burst stops when they are empty.
"""

import argparse
import logging
import sys

from rq import Worker

from webapp import create_app
from webapp.jobs import periodic
from webapp.queues import QUEUE_NAMES, get_queue, get_redis


def main(argv: list[str]) -> int:
    """Serve the queues until stopped (or until empty with --burst)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burst", action="store_true", help="stop when the queues are empty")
    parser.add_argument("queues", nargs="*", help=f"queues to serve (default: {' '.join(QUEUE_NAMES)})")
    args = parser.parse_args(argv)
    unknown = set(args.queues) - set(QUEUE_NAMES)
    if unknown:
        parser.error(f"unknown queue(s): {', '.join(sorted(unknown))}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    with app.app_context():
        names = args.queues or list(QUEUE_NAMES)
        queues = [get_queue(name) for name in QUEUE_NAMES if name in names]
        redis = get_redis()
        # Sweep up mail stored while Redis was down, and re-queue sends whose entry was lost.
        periodic_process = periodic.start(interval=float(app.config["PERIODIC_INTERVAL"]))
        try:
            Worker(queues, connection=redis).work(with_scheduler=True, burst=args.burst)
        finally:
            periodic_process.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
