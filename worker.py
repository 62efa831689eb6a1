"""Run an RQ worker with the scheduler, and the periodic duties, inside the app context.

    python worker.py [--burst] [queue ...]

Serves the queues (default: all, in priority order); --burst stops when they are empty.

Without --burst, this process only supervises: the RQ worker, the periodic process
(inbound sweep, send reconciler) and, when it serves the sync queue, the mailbox IDLE
process each run in a process of their own, and whichever stops is
started again, after a pause that grows while it keeps stopping at once. SIGTERM (or
Ctrl-C) stops both: the RQ worker finishes its current job first (RQ's warm shutdown).
"""

import argparse
import contextlib
import ctypes
import logging
import multiprocessing
import signal
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess

from webapp import create_app
from webapp.config import Config, ConfigError
from webapp.jobs import periodic
from webapp.jobs.rq_worker import DrainInPlaceWorker
from webapp.mail.inbound import away
from webapp.observability import configure_logging
from webapp.queues import QUEUE_NAMES, get_queue, get_redis

BAD_CONFIG = 2  # exit code for settings that cannot work: said once, never restarted

log = logging.getLogger("worker")
# A child that ran at least this long before stopping is started again at once; one that
# stops sooner waits 1, 2, 4... seconds, up to MAX_PAUSE_S (a broken setting must not spin).
STEADY_S = 30.0
MAX_PAUSE_S = 60.0


def _config() -> Config:
    """The settings, or exit BAD_CONFIG saying which production setting is missing (no traceback)."""
    try:
        config = Config()
    except ConfigError as exc:
        print(f"worker.py: {exc}", file=sys.stderr)
        sys.exit(BAD_CONFIG)
    # RQ's own loggers add no handler of theirs once the root logger has one: all lines alike.
    configure_logging(config.LOG_LEVEL, config.LOG_FORMAT)
    return config


def serve(queues: list[str], burst: bool) -> None:
    """The RQ worker: its own app, Redis and database connections."""
    app = create_app(_config())
    if "classify" in queues:  # loaded once here, not by the first drain while mail waits
        away.warm_up()
    with app.app_context():
        # A short TTL: an idle worker checks in every WORKER_TTL - 15 s, which /readyz watches.
        # The classify drains run in the worker itself, warm (webapp/jobs/rq_worker.py).
        worker = DrainInPlaceWorker(
            [get_queue(name) for name in queues],
            connection=get_redis(),
            worker_ttl=app.config["WORKER_TTL"],
            in_place=(get_queue("classify").name,),
        )
        worker.work(with_scheduler=True, burst=burst, logging_level=app.config["LOG_LEVEL"])


def _die_with_parent() -> None:
    """Ask Linux to stop this child (SIGTERM) if the supervisor is killed (kill -9 leaves no orphan)."""
    # Not Linux: a killed supervisor may leave its children running.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def run_periodic() -> None:
    """The periodic process (sweep, reconciler), which outlives outages (webapp/jobs/periodic.py)."""
    config = _config()
    periodic.run_forever(float(config.PERIODIC_INTERVAL), config=config)


def run_mailbox_idle() -> None:
    """The mailbox IDLE process: queues a sync when a mailbox gets new mail (webapp/jobs/idle.py)."""
    from webapp.jobs import idle  # only where the sync queue is served

    idle.run_forever(_config())


def _child_main(target, *args) -> None:
    _die_with_parent()
    target(*args)


@dataclass
class Child:
    """One supervised process: what it runs, and how often it stopped too soon."""

    name: str
    target: object
    args: tuple = ()
    process: BaseProcess | None = None
    quick_stops: int = 0
    started_at: float = 0.0
    start_after: float = field(default=0.0)

    def start(self) -> None:
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no inherited locks
        self.process = context.Process(target=_child_main, args=(self.target, *self.args), name=self.name)
        self.process.start()
        self.started_at = time.monotonic()

    def stopped(self) -> bool:
        return self.process is not None and not self.process.is_alive()

    def schedule_restart(self) -> float:
        """Note that it stopped; returns the pause before it is started again."""
        ran = time.monotonic() - self.started_at
        self.quick_stops = 0 if ran >= STEADY_S else self.quick_stops + 1
        pause = 0.0 if not self.quick_stops else min(MAX_PAUSE_S, 2.0 ** (self.quick_stops - 1))
        self.process, self.start_after = None, time.monotonic() + pause
        return pause


class Supervisor:
    """Starts the children, starts again whichever stops, and stops them all on SIGTERM or SIGINT."""

    def __init__(self, children: list[Child]):
        self.children = children
        self.stopping = False

    def _stop(self, signum, frame) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for child in self.children:
            child.start()
        while not self.stopping:
            for child in self.children:
                if child.stopped() and child.process is not None and child.process.exitcode == BAD_CONFIG:
                    self.shutdown()
                    return BAD_CONFIG
                if child.stopped():
                    code = child.process.exitcode if child.process else None
                    pause = child.schedule_restart()
                    log.error(
                        "%s stopped (exit code %s); starting it again in %.0f s", child.name, code, pause
                    )
                if child.process is None and time.monotonic() >= child.start_after and not self.stopping:
                    child.start()
            time.sleep(0.5)
        self.shutdown()
        return 0

    def shutdown(self) -> None:
        running = [c.process for c in self.children if c.process is not None and c.process.is_alive()]
        for process in running:
            process.terminate()  # SIGTERM: RQ's warm shutdown, the periodic loop ends
        for process in running:
            # The RQ worker may be finishing a job (its own timeout bounds it); the rest is quick.
            process.join(None if process.name == "rq-worker" else 10)
            if process.is_alive():
                process.kill()


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
        _config()
    except SystemExit as exc:  # production settings missing: said on stderr, nothing started
        return int(exc.code or BAD_CONFIG)
    names = args.queues or list(QUEUE_NAMES)
    queues = [name for name in QUEUE_NAMES if name in names]
    if args.burst:  # one pass over the queues, in this process: nothing to supervise
        serve(queues, burst=True)
        return 0
    # Sweep up mail stored while Redis was down, and re-queue sends whose entry was lost.
    children = [Child("rq-worker", serve, (queues, False)), Child("periodic", run_periodic)]
    if "sync" in queues:  # IDLE on the mailboxes: its own process, never a worker's turn
        children.append(Child("mailbox-idle", run_mailbox_idle))
    return Supervisor(children).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
