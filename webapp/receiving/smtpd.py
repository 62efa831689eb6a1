"""The inbound SMTP/LMTP listener (aiosmtpd): 250 only once the message is committed.

Messages that arrive while a batch is being stored are stored together (group commit): one
round of file syncs and one commit for all of them, each DATA answered once its batch is
committed. A lone message is stored at once; a burst pays per batch, not per message.
"""

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from email._header_value_parser import AddrSpec, AngleAddr, get_addr_spec, get_angle_addr
from email.errors import HeaderParseError

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import MISSING, SMTP

from webapp.extensions import db
from webapp.receiving.receive import Arrival, accepts, receive_many

log = logging.getLogger(__name__)
# At most this many messages in one commit: a batch's commit stays short.
MAX_BATCH = 200
# A recipient's answer is reused this long (seconds): a burst to one address asks the
# database once, and a user or job created just now is accepted within this delay.
RECIPIENT_TTL_S = 10.0
RECIPIENT_CACHE_MAX = 10_000


class RecipientAnswers:
    """Whether an address is ours and exists, asked of the database at most once per RECIPIENT_TTL_S."""

    def __init__(self, ask, executor=None):
        self.ask = ask  # address -> bool, run in `executor` (None: the loop's default one)
        self.executor = executor
        self.answers: dict[str, tuple[bool, float]] = {}

    async def known(self, address: str) -> bool:
        key, now = address.lower(), time.monotonic()
        cached = self.answers.get(key)
        if cached is not None and cached[1] > now:
            return cached[0]
        answer = await asyncio.get_running_loop().run_in_executor(self.executor, self.ask, address)
        if len(self.answers) >= RECIPIENT_CACHE_MAX:  # a flood of made-up addresses: start again
            self.answers.clear()
        self.answers[key] = (answer, now + RECIPIENT_TTL_S)
        return answer


class GroupCommit:
    """Stores arrivals in batches, one at a time: what arrives meanwhile waits for the next one."""

    def __init__(self, store_batch, executor=None):
        self.store_batch = store_batch  # list[Arrival] -> list[int], run in `executor`
        self.executor = executor  # None: the loop's default one
        self.pending: list[tuple[Arrival, asyncio.Future]] = []
        self.flushing = False

    async def store(self, arrival: Arrival) -> int:
        """The message's id once its batch is committed (raises what storing the batch raised)."""
        done = asyncio.get_running_loop().create_future()
        self.pending.append((arrival, done))
        if not self.flushing:
            self.flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending[:MAX_BATCH], self.pending[MAX_BATCH:]
                try:
                    ids = await asyncio.get_running_loop().run_in_executor(
                        self.executor, self.store_batch, [arrival for arrival, _ in batch]
                    )
                except Exception as exc:
                    for _, done in batch:
                        if not done.done():  # a client that hung up stopped waiting
                            done.set_exception(exc)
                    continue
                for (_, done), message_id in zip(batch, ids, strict=True):
                    if not done.done():
                        done.set_result(message_id)
        finally:
            self.flushing = False


class InboundHandler:
    """Accept mail for our addresses that exist; store it before saying yes."""

    def __init__(self, app):
        self.app = app
        # Batches are stored one at a time, always by this one thread, which keeps one app
        # context (and its session) for its life: no context to push, copy and tear down a batch.
        self.storer = ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="inbound-store", initializer=self._enter_app
        )
        self.batches = GroupCommit(self._store, self.storer)
        # Recipients are checked by two threads of their own, each in its app context for life
        # too: a context pushed for every check cost more than the query (a reply address is
        # new for every conversation, so most checks ask the database).
        self.checker = ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="inbound-rcpt", initializer=self._enter_app
        )
        self.recipients = RecipientAnswers(self._accepts, self.checker)

    def _enter_app(self) -> None:
        self.app.app_context().push()

    def _accepts(self, address: str) -> bool:
        try:
            found = accepts(address)
            # Ended by a COMMIT, not by the ROLLBACK that remove() sends for an open transaction:
            # psycopg forgets what it prepared on a connection that rolls back, and the pool
            # hands this connection to the batches' INSERT next (planned anew every batch).
            db.session.commit()
            return found
        finally:
            db.session.remove()  # no transaction (nor connection) held between checks

    def _store(self, arrivals: list[Arrival]) -> list[int]:
        try:
            return receive_many(arrivals)
        except BaseException:
            db.session.remove()  # the next batch starts from a clean session
            raise

    def close(self) -> None:
        self.storer.shutdown(wait=False)
        self.checker.shutdown(wait=False)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        """Offer PIPELINING (RFC 2920): senders then send MAIL, RCPT and DATA at once.

        aiosmtpd reads commands one by one from its buffer and answers each in order, which is
        all the extension asks of a server; a sender saves two round trips a message.
        """
        session.host_name = hostname  # what aiosmtpd does itself when there is no hook
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Refuse unknown recipients at RCPT time, so the sender's server bounces at once."""
        try:
            known = await self.recipients.known(address)
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
            message_id = await self.batches.store(
                Arrival(raw, "smtp", envelope.mail_from, list(envelope.rcpt_tos))
            )
        except Exception:
            log.exception("storing inbound mail failed")
            return "451 4.3.0 Temporary failure, please try again later"
        log.info("stored message %s for %s", message_id, ", ".join(envelope.rcpt_tos))
        reply = f"250 2.0.0 Stored as {message_id}"
        if isinstance(server, LMTP):  # LMTP answers once per recipient
            return "\r\n".join([reply] * len(envelope.rcpt_tos))
        return reply


class WholeData(SMTP):
    """SMTP DATA read up to each `.` that ends a line, not line by line (LMTP too, mixed in).

    aiosmtpd reads DATA one line at a time: ~400 awaits, joins and checks for a 27 KB message,
    most of the listener's event loop time. Searching the stream for `.<CRLF>` takes a few
    steps a message; what aiosmtpd guarantees stays: the size limit (552 once the whole message
    is read), dot-unstuffing (RFC 5321 4.5.2), lines of any length up to the size limit.
    """

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        envelope = self.envelope
        assert envelope is not None
        if not envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        limit = self.data_size_limit
        chunks: list[bytes] = []
        size, too_much = 0, False
        line_start = True  # whether what was read so far ends a line (DATA starts one)
        while True:
            try:
                chunk = await self._reader.readuntil(b".\r\n")
                ended = chunk.endswith(b"\r\n.\r\n") or (len(chunk) == 3 and line_start)
            except asyncio.CancelledError:  # the connection was lost during DATA
                self._writer.close()
                raise
            except asyncio.LimitOverrunError as exc:  # no `.<CRLF>` within the size limit
                chunk, ended = await self._reader.read(exc.consumed), False
            size += len(chunk) - (3 if ended else 0)
            if limit and size > limit:
                too_much = True
                chunks.clear()  # keep reading to the end, holding nothing
            elif not too_much:
                chunks.append(chunk)
            if ended:
                break
            line_start = chunk.endswith(b"\r\n")
        if too_much:
            await self.push("552 Error: Too much mail data")
            self._set_post_data_state()
            return
        chunks[-1] = chunks[-1][:-3]  # the terminating `.<CRLF>`
        data = b"".join(chunks)
        chunks.clear()
        if data.startswith(b"."):
            data = data[1:]
        data = data.replace(b"\r\n.", b"\r\n")  # a line's leading dot was added by the sender
        envelope.content = envelope.original_content = data
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's reading of MAIL's and RCPT's address, without the class it defines at every call.

        aiosmtpd 1.4.6 declares a typing Protocol inside `_getaddr`: building that class took
        21 of its 56 us a call and left garbage for the collector (a collection every 70
        calls). The same parsing and limits.
        """
        if not arg:
            return "", ""
        address: AngleAddr | AddrSpec
        try:
            if arg.lstrip().startswith("<"):
                address, rest = get_angle_addr(arg)
            else:
                address, rest = get_addr_spec(arg)
        except HeaderParseError:
            return None, None
        addr = address.addr_spec
        local_part = addr.rpartition("@")[0]
        if self.local_part_limit and len(local_part) > self.local_part_limit:
            return None, None
        return addr, rest


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

    def stop(self, *args, **kwargs):
        super().stop(*args, **kwargs)
        self.handler.close()

    def factory(self):
        base = LMTP if self.lmtp else SMTP
        # Lines over RFC 5321's 1000 bytes are refused by aiosmtpd (500), and the sender then
        # bounces real mail: MTAs take them, so we do, up to the size limit (limit + CRLF).
        limit = self.SMTP_kwargs["data_size_limit"] + 2
        cls = type(base.__name__, (WholeData, base), {"line_length_limit": limit})
        return cls(self.handler, **self.SMTP_kwargs)
