"""Hand a built message to the world: SMTP (SMTP_URL), or a local outbox folder by default."""

import contextlib
import os
import re
import smtplib
import ssl
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from webapp.mail.idn import needs_smtputf8


class TemporaryError(Exception):
    """The server or network may accept it later: retry with backoff."""

    def __init__(self, reason: str, connection_failed: bool = False):
        super().__init__(reason)
        # No server answered (refused, timed out, dropped): not about this message at all.
        self.connection_failed = connection_failed


class UnknownOutcome(Exception):
    """The connection broke after the message was sent, before the server said it took it.

    The server may have it (RFC 5321 asks it to answer within 10 minutes): sending it again
    could deliver it twice, so a person decides.
    """


class PermanentError(Exception):
    """The server refused it for good (5xx): fail at once, with its reason."""


_tls: ssl.SSLContext | None = None
_LEADING_DOT = re.compile(rb"(?m)^\.")  # dot-stuffing, as smtplib does it


def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process, made on first use.

    Loading the system's CA certificates takes 25-150 ms: paid on every connection before,
    even for plain SMTP, which never uses it (it doubled the time a send job took).
    """
    global _tls
    if _tls is None:
        _tls = ssl.create_default_context()
    return _tls


class SmtpTransport:
    """smtp://user:pass@host:587?starttls=1, smtps://host:465 (implicit TLS)."""

    # Many servers refuse more messages on one connection after about a hundred (421);
    # starting a new one before that costs a handshake, not a retry.
    MESSAGES_PER_CONNECTION = 100

    def __init__(self, url: str, timeout: float = 30.0, local_hostname: str | None = None):
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"SMTP_URL must start with smtp:// or smtps://, not {parts.scheme}://")
        query = parse_qs(parts.query)
        self.host = parts.hostname or "localhost"
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.starttls = query.get("starttls", ["0"])[0] in ("1", "true", "yes")
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.local_hostname = local_hostname
        self._conn: smtplib.SMTP | None = None
        self._sent_on_conn = 0

    def _connect(self) -> smtplib.SMTP:
        conn: smtplib.SMTP
        if self.implicit_tls:
            conn = smtplib.SMTP_SSL(
                self.host,
                self.port,
                timeout=self.timeout,
                context=_tls_context(),
                local_hostname=self.local_hostname,
            )
        else:
            conn = smtplib.SMTP(
                self.host, self.port, timeout=self.timeout, local_hostname=self.local_hostname
            )
            if self.starttls:
                conn.starttls(context=_tls_context())
        if self.username:
            conn.login(self.username, self.password or "")
        return conn

    def send(self, envelope_from: str, recipients: list[str], raw: bytes, before_data=None) -> str | None:
        """Deliver `raw`; returns the server's reply. Raises TemporaryError or PermanentError.

        `before_data()`, if given, is asked once the recipients are accepted, just before the
        message itself goes out: False stops there (RSET, nothing sent) and returns None.
        """
        if self._sent_on_conn >= self.MESSAGES_PER_CONNECTION:
            self.close()
        try:
            if self._conn is None:
                self._conn = self._connect()
                self._sent_on_conn = 0
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryError(f"{type(exc).__name__}: {exc}", connection_failed=True) from exc
        try:
            self._sent_on_conn += 1
            refused = _sendmail(self._conn, envelope_from, recipients, raw, before_data)
            if refused is None:
                return None
        except UnknownOutcome:
            self.close()
            raise
        except UnicodeEncodeError as exc:  # a non-ASCII address that slipped past the check above
            self.close()
            raise PermanentError(f"This address needs a mail server with SMTPUTF8: {exc}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            codes = [code for code, _ in exc.recipients.values()]
            reason = "; ".join(
                f"{addr}: {code} {msg.decode(errors='replace')}"
                for addr, (code, msg) in exc.recipients.items()
            )
            raise (TemporaryError if all(400 <= c < 500 for c in codes) else PermanentError)(reason) from exc
        except smtplib.SMTPResponseException as exc:
            self.close()
            said = exc.smtp_error
            reason = f"{exc.smtp_code} {said.decode(errors='replace') if isinstance(said, bytes) else said}"
            raise (PermanentError if 500 <= exc.smtp_code < 600 else TemporaryError)(reason) from exc
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TemporaryError(f"{type(exc).__name__}: {exc}") from exc
        if refused:  # some recipients refused, others accepted: the message has left
            return "accepted with refusals: " + "; ".join(f"{a}: {c}" for a, (c, _) in refused.items())
        return "250 accepted"

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a broken connection is best effort
                self._conn.quit()
            self._conn = None


class OutboxTransport:
    """The embedded default: each sent message becomes an .eml file in OUTBOX_DIR."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def send(self, envelope_from: str, recipients: list[str], raw: bytes, before_data=None) -> str | None:
        if before_data is not None and not before_data():
            return None
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".eml")
        header = f"X-Envelope-From: {envelope_from}\r\nX-Envelope-To: {', '.join(recipients)}\r\n".encode()
        with os.fdopen(fd, "wb") as fh:
            fh.write(header + raw)
        name = self.directory / f"{os.path.basename(tmp)[5:]}"
        os.replace(tmp, name)
        return f"written to {name}"

    def close(self) -> None:
        pass


def _sendmail(conn: smtplib.SMTP, sender: str, recipients: list[str], raw: bytes, before_data) -> dict | None:
    """smtplib's sendmail, with a pause before DATA for `before_data` (None: stopped there)."""
    conn.ehlo_or_helo_if_needed()
    conn.command_encoding = "ascii"  # the previous message on this connection may have used UTF-8
    options = [f"size={len(raw)}"] if conn.does_esmtp and conn.has_extn("size") else []
    needing = [a for a in [sender, *recipients] if needs_smtputf8(a)]
    if needing:
        # A non-ASCII local part: only a server that offers SMTPUTF8 can take it (smtplib then
        # speaks UTF-8). An A-label domain (xn--) needs nothing (webapp/mail/idn.py).
        if not conn.has_extn("smtputf8"):
            raise PermanentError(
                f"{', '.join(needing)}: the address needs SMTPUTF8, which our mail server does not offer"
            )
        options.append("SMTPUTF8")
    code, reply = conn.mail(sender, options)
    if code != 250:
        _reset(conn, code)
        raise smtplib.SMTPSenderRefused(code, reply, sender)
    refused = {}
    for recipient in recipients:
        code, reply = conn.rcpt(recipient)
        if code not in (250, 251):
            refused[recipient] = (code, reply)
        if code == 421:
            conn.close()
            raise smtplib.SMTPRecipientsRefused(refused)
    if len(refused) == len(recipients):
        _reset(conn, 0)
        raise smtplib.SMTPRecipientsRefused(refused)
    if before_data is not None and not before_data():
        _reset(conn, 0)
        return None
    code, reply = conn.docmd("data")
    if code != 354:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    # smtplib's data(), split at the point of no return: once the body is on its way, a
    # broken connection no longer means the server does not have the message.
    body = _LEADING_DOT.sub(b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    try:
        conn.send(body + b".\r\n")
        code, reply = conn.getreply()
    except (OSError, smtplib.SMTPServerDisconnected) as exc:
        raise UnknownOutcome(f"{type(exc).__name__} after the message was sent: {exc}") from exc
    if code != 250:
        _reset(conn, code)
        raise smtplib.SMTPDataError(code, reply)
    return refused


def _reset(conn: smtplib.SMTP, code: int) -> None:
    """After a refusal: RSET for the next message, or close if the server is leaving (421)."""
    if code == 421:
        conn.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        conn.rset()


def transport_for(config) -> SmtpTransport | OutboxTransport:
    """The transport the configuration asks for."""
    if config.get("SMTP_URL"):
        return SmtpTransport(config["SMTP_URL"], local_hostname=config.get("INBOUND_DOMAIN"))
    return OutboxTransport(config["OUTBOX_DIR"])
