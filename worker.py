"""Run an RQ worker with the scheduler, inside the app context.

    python worker.py [--burst] [queue ...]

Serves the queues (default: all, in priority order); --burst stops when they are empty.
"""

import argparse
import sys

from rq import Worker

from webapp import create_app
from webapp.config import Config, ConfigError
from webapp.jobs import periodic
from webapp.observability import configure_logging
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
    try:
        config = Config()
    except ConfigError as exc:  # production settings missing: say which, without a traceback
        print(f"worker.py: {exc}", file=sys.stderr)
        return 2
    # RQ's own loggers add no handler of theirs once the root logger has one: all lines alike.
    configure_logging(config.LOG_LEVEL, config.LOG_FORMAT)
    app = create_app(config)
    with app.app_context():
        names = args.queues or list(QUEUE_NAMES)
        queues = [get_queue(name) for name in QUEUE_NAMES if name in names]
        redis = get_redis()
        # Sweep up mail stored while Redis was down, and re-queue sends whose entry was lost.
        periodic_process = periodic.start(interval=float(app.config["PERIODIC_INTERVAL"]))
        try:
            # A short TTL: an idle worker checks in every WORKER_TTL - 15 s, which /readyz watches.
            worker = Worker(queues, connection=redis, worker_ttl=app.config["WORKER_TTL"])
            worker.work(with_scheduler=True, burst=args.burst, logging_level=app.config["LOG_LEVEL"])
        finally:
            periodic_process.terminate()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
