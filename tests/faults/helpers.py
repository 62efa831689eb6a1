"""Helpers of the fault tests.

Fault tests: real processes (`python worker.py`, the SMTP listener, the web app, a
redis-server of their own) killed or cut off mid-work; the database rows say what happened.

They drive the processes as black boxes (start, kill -9, observe rows), so they hold however
the workers share the work. Where a recovery window is minutes long (a claim going stale, a
retry's backoff), the test moves the row's clock instead of waiting: said where it does.
"""

import asyncio
import contextlib
import signal
import subprocess
import time
from collections.abc import Callable

import psutil
from sqlalchemy import func, select, update

from tests.sinks import ROOT, SinkHandler, free_port
from webapp.extensions import db
from webapp.models import Message, MessageRecipient


def wait_until(check: Callable[[], object], timeout: float, interval: float = 0.1):
    """The first truthy answer of `check` within `timeout` seconds, else None."""
    deadline = time.monotonic() + timeout
    while True:
        answer = check()
        if answer or time.monotonic() >= deadline:
            return answer or None
        time.sleep(interval)


def kill_tree(proc: subprocess.Popen) -> None:
    """kill -9 a process and all its descendants at once, as a crash of the machine would."""
    try:
        family = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    for member in reversed(family):  # the work-horse first: it is the one mid-work
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(signal.SIGKILL)
    psutil.wait_procs(family, timeout=10)
    proc.wait(timeout=10)
    if proc.stdout:
        proc.stdout.close()


def inbound_counts(app) -> dict:
    """How many inbound rows there are, classified, and with how many recipient rows each."""
    with app.app_context():
        rows = db.session.execute(select(Message.id, Message.outcome, Message.thread_id)).all()
        recipients = dict(
            db.session.execute(
                select(MessageRecipient.message_id, func.count()).group_by(MessageRecipient.message_id)
            ).all()
        )
        db.session.remove()
    return {"rows": rows, "recipients": recipients}


def unclassified(app) -> int:
    with app.app_context():
        left = db.session.scalar(select(func.count()).where(Message.outcome.is_(None))) or 0
        db.session.remove()
        return left


def set_columns(app, where, **values) -> None:
    """Change rows directly (to move a claim's or a retry's clock)."""
    with app.app_context():
        db.session.execute(update(Message).where(where).values(**values))
        db.session.commit()
        db.session.remove()


class StallingHandler(SinkHandler):
    """A sink that never answers the DATA of a message whose subject has `stall` in it."""

    def __init__(self, stall: bytes):
        super().__init__()
        self.stall = stall
        self.stalled = 0

    async def handle_DATA(self, server, session, envelope):
        if self.stall in envelope.content:
            self.stalled += 1
            await asyncio.sleep(3600)  # the server hangs after the message was sent to it
        return await super().handle_DATA(server, session, envelope)


class PrivateRedis:
    """A redis-server of the test's own on a free port (the shared one is never stopped)."""

    def __init__(self):
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        import redis

        client = redis.Redis.from_url(self.url)
        assert wait_until(lambda: _pings(client), 10), "redis-server did not start"
        return self

    def stop(self) -> None:
        """Stop it at once (its data goes with it, as after a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def _pings(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def process_env(base: dict, **extra) -> dict:
    """A child process's environment: `base` (tests.sinks.worker_env) and `extra` settings."""
    return {**base, **{k: str(v) for k, v in extra.items()}, "PYTHONUNBUFFERED": "1"}


def start(command: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def port_open(port: int) -> bool:
    import socket

    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0
