"""Real servers for tests: an SMTP sink (aiosmtpd) and worker processes (python worker.py)."""

import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Delivered:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    at: float
    peer: tuple | None = None  # the client's (host, port): one per connection


@dataclass
class SinkHandler:
    """Keeps what arrives; `refuse` maps a recipient to an SMTP reply to give at RCPT."""

    messages: list[Delivered] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(
                Delivered(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.content,
                    time.time(),
                    tuple(session.peer),
                )
            )
        return "250 2.0.0 Queued"


class SmtpSink:
    def __init__(self):
        self.handler = SinkHandler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=free_port(), decode_data=False)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.controller.port}"

    @property
    def messages(self) -> list[Delivered]:
        return list(self.handler.messages)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Delivered]:
        deadline = time.time() + timeout
        while time.time() < deadline and len(self.handler.messages) < count:
            time.sleep(0.05)
        return self.messages

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


def worker_env(app, redis_url: str, **extra) -> dict:
    """The environment a `python worker.py` process needs to join this test run."""
    # The shell's own settings (a real SMTP_URL, say) never reach a worker of the test run.
    shell = {k: v for k, v in os.environ.items() if k not in app.config and k not in ("DATABASE_URL",)}
    return {
        **shell,
        "INSTANCE_DIR": app.config["INSTANCE_DIR"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": redis_url,
        "RQ_QUEUE_PREFIX": app.config["RQ_QUEUE_PREFIX"],
        "STORAGE_DIR": app.config["STORAGE_DIR"],
        "OUTBOX_DIR": app.config["OUTBOX_DIR"],
        "SMTP_URL": app.config["SMTP_URL"] or "",
        "INBOUND_DOMAIN": app.config["INBOUND_DOMAIN"],
        "INBOUND_SECRET": app.config["INBOUND_SECRET"],
        **{k: str(v) for k, v in extra.items()},
    }


def start_worker(env: dict, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "worker.py"), *args],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def stop_worker(proc: subprocess.Popen, timeout: float = 10.0) -> str:
    if proc.poll() is None:
        proc.terminate()
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")
