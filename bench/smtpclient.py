"""A small SMTP client for the benchmarks that pipelines, as a mail server delivering to us does.

smtplib waits for each reply before the next command: four round trips a message (MAIL, RCPT,
DATA, the content). Postfix, Exim and the large providers send MAIL, every RCPT and DATA at
once when the server offers PIPELINING (RFC 2920), then wait for the replies: two round trips.
Against a server that does not offer it, this client waits for each reply, as smtplib does.
The DATA sent is smtplib's for a message given as bytes: leading dots doubled (RFC 5321
4.5.2), a line break added if it has none at its end, then the final dot.
"""

import smtplib
import socket


class Refused(Exception):
    """The server refused the message (the reply that said no)."""


class Client:
    """One SMTP connection: EHLO once, then any number of messages, then QUIT."""

    def __init__(self, host: str, port: int, helo: str, timeout: float = 300.0, pipeline: bool = True):
        """Connect and say EHLO; pipeline=False waits for each reply even where PIPELINING is offered."""
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.replies = self.sock.makefile("rb")
        self._expect(self._reply(), 220)
        self.sock.sendall(f"EHLO {helo}\r\n".encode())
        code, lines = self._reply()
        self._expect((code, lines), 250)
        offered = any(line[4:].strip().upper() == b"PIPELINING" for line in lines)
        self.pipelining = pipeline and offered

    def send(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> str:
        """Deliver one message; its final reply. Raises Refused when no recipient or the data is refused."""
        commands = [f"MAIL FROM:<{mail_from}>\r\n".encode()]
        commands += [f"RCPT TO:<{rcpt}>\r\n".encode() for rcpt in rcpt_tos]
        commands.append(b"DATA\r\n")
        if self.pipelining:
            self.sock.sendall(b"".join(commands))
            replies = [self._reply() for _ in commands]
        else:
            replies = self._lockstep(commands)
        accepted = len(replies) == len(commands) and any(code == 250 for code, _ in replies[1:-1])
        if replies[0][0] != 250 or not accepted or replies[-1][0] != 354:
            if len(replies) == len(commands) and replies[-1][0] == 354:  # no recipient: end the DATA empty
                self.sock.sendall(b".\r\n")
                self._reply()
            self._reset()
            raise Refused(b" ".join(next((lines for code, lines in replies if code >= 400), [b"refused"])))
        self.sock.sendall(_data(raw))
        code, lines = self._reply()
        if code != 250:
            raise Refused(b"".join(lines))
        return b"".join(lines).decode("ascii", "replace")

    def close(self) -> None:
        try:
            self.sock.sendall(b"QUIT\r\n")
            self._reply()
        except OSError:
            pass
        self.replies.close()
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _lockstep(self, commands: list[bytes]) -> list[tuple[int, list[bytes]]]:
        """Each command after the last reply; stops where smtplib does (no DATA without a recipient)."""
        replies = []
        for command in commands:
            if command == b"DATA\r\n" and not any(code == 250 for code, _ in replies[1:]):
                break
            self.sock.sendall(command)
            replies.append(self._reply())
            if len(replies) == 1 and replies[0][0] != 250:
                break
        return replies

    def _reset(self) -> None:
        self.sock.sendall(b"RSET\r\n")
        self._reply()

    def _reply(self) -> tuple[int, list[bytes]]:
        """One reply, its lines (a line with '-' after the code is followed by another)."""
        lines = []
        while True:
            line = self.replies.readline()
            if not line:
                raise ConnectionError("the server closed the connection")
            lines.append(line.rstrip(b"\r\n"))
            if line[3:4] != b"-":
                return int(line[:3]), lines

    @staticmethod
    def _expect(reply: tuple[int, list[bytes]], code: int) -> None:
        if reply[0] != code:
            raise ConnectionError(f"expected {code}, got {b' '.join(reply[1])!r}")


def _data(raw: bytes) -> bytes:
    """The message as smtplib's `data()` sends bytes: dots doubled (its own helper), then the end."""
    quoted = smtplib._quote_periods(raw)  # type: ignore[attr-defined]  # the stdlib's, private
    return quoted + (b"" if quoted.endswith(b"\r\n") else b"\r\n") + b".\r\n"
