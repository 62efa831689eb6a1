"""The inbound SMTP/LMTP listener (aiosmtpd): 250 only once the message is committed."""

import asyncio
import logging

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP

from webapp.receiving.receive import accepts, receive

log = logging.getLogger(__name__)


class InboundHandler:
    """Accept mail for our addresses that exist; store it before saying yes."""

    def __init__(self, app):
        self.app = app

    def _in_app(self, func, *args):
        with self.app.app_context():
            return func(*args)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Refuse unknown recipients at RCPT time, so the sender's server bounces at once."""
        try:
            known = await asyncio.to_thread(self._in_app, accepts, address)
        except Exception:
            log.exception("recipient check failed for %s", address)
            return "451 4.3.0 Temporary failure, please try again later"
        if not known:
            return "550 5.1.1 No such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        """Store the message; any failure is temporary (4xx) so the sender retries, never lost."""
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            message_id = await asyncio.to_thread(
                self._in_app, receive, raw, "smtp", envelope.mail_from, list(envelope.rcpt_tos)
            )
        except Exception:
            log.exception("storing inbound mail failed")
            return "451 4.3.0 Temporary failure, please try again later"
        log.info("stored message %s for %s", message_id, ", ".join(envelope.rcpt_tos))
        reply = f"250 2.0.0 Stored as {message_id}"
        if isinstance(server, LMTP):  # LMTP answers once per recipient
            return "\r\n".join([reply] * len(envelope.rcpt_tos))
        return reply


class InboundController(Controller):
    """aiosmtpd's controller, speaking SMTP or LMTP, with our size limit."""

    def __init__(self, app, hostname: str, port: int, lmtp: bool = False):
        self.lmtp = lmtp
        super().__init__(
            InboundHandler(app),
            hostname=hostname,
            port=port,
            data_size_limit=app.config["INBOUND_MAX_BYTES"],
            decode_data=False,
            server_hostname=app.config["INBOUND_DOMAIN"],
        )

    def factory(self):
        base = LMTP if self.lmtp else SMTP
        # Lines over RFC 5321's 1000 bytes are refused by aiosmtpd (500), and the sender then
        # bounces real mail: MTAs take them, so we do, up to the size limit (limit + CRLF).
        cls = type(base.__name__, (base,), {"line_length_limit": self.SMTP_kwargs["data_size_limit"] + 2})
        return cls(self.handler, **self.SMTP_kwargs)
