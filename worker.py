"""Run an RQ worker with the scheduler, inside the app context (python worker.py)."""

import logging
import sys

from rq import Worker

from webapp import create_app
from webapp.queues import QUEUE_NAMES, all_queues, get_redis


def main(argv: list[str]) -> int:
    """Serve the queues (default: all, in priority order) until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    with app.app_context():
        names = argv or list(QUEUE_NAMES)
        queues = [q for q in all_queues() if q.name in names]
        worker = Worker(queues, connection=get_redis())
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
