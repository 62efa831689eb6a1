"""The SMTP guard every test runs under: mail goes only to servers the test run itself runs.

A developer's shell may hold a real SMTP_URL, and a local MTA may listen on port 25; a test
that reached either would mail real people. The guard sits under smtplib (SMTP, SMTP_SSL and
LMTP all open their socket through `SMTP._get_socket`) and lets a connection through only to a
loopback port that this process listens on (the sink in tests/sinks.py, the inbound listener,
a hand-made fake server) or that nobody listens on (a test of a dead server: it is refused
anyway). Anything else is refused, recorded, and fails the test at teardown, even when the code
under test swallows the error as a temporary failure.
"""

import smtplib
import socket

import psutil

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


class ForbiddenSmtpConnection(ConnectionRefusedError):
    """What the code under test sees instead of a connection to a server that is not ours."""


class SmtpGuard:
    def __init__(self):
        self.refused: list[tuple[str, int]] = []
        self.owned: set[int] = set()  # ports of listeners the test started as processes

    def own(self, port: int) -> None:
        """Allow a loopback port a process started by the test listens on (tests/faults/)."""
        self.owned.add(port)

    def allows(self, host: str, port: int) -> bool:
        """Whether a test may open an SMTP connection to host:port."""
        if host not in LOOPBACK:
            return False
        if port in self.owned:
            return True
        return port in _listening_ports_of_this_process() or not _anyone_listens(host, port)

    def install(self, monkeypatch) -> None:
        """Guard smtplib for the length of one test (monkeypatch undoes it)."""
        real_get_socket = smtplib.SMTP._get_socket

        def guarded_get_socket(smtp, host, port, timeout):
            if not self.allows(host, port):
                self.refused.append((host, port))
                raise ForbiddenSmtpConnection(f"tests may not connect to the SMTP server {host}:{port}")
            return real_get_socket(smtp, host, port, timeout)

        monkeypatch.setattr(smtplib.SMTP, "_get_socket", guarded_get_socket)

    def report(self) -> str:
        """Why the test fails, or '' when it opened no forbidden connection."""
        if not self.refused:
            return ""
        servers = ", ".join(f"{host}:{port}" for host, port in self.refused)
        return f"the test tried to connect to SMTP servers outside the test run: {servers}"


def _listening_ports_of_this_process() -> set[int]:
    connections = psutil.Process().net_connections(kind="tcp")
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


def _anyone_listens(host: str, port: int) -> bool:
    """Whether a TCP connection to host:port would be accepted (it is closed at once)."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
