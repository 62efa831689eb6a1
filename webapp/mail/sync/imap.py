"""The IMAP client side: connect and log in (with errors people understand), list, fetch, IDLE, append.

Built on the standard library's imaplib; every network error becomes a `MailboxError` whose
`kind` says what went wrong (the password, the network, TLS, the server) and whose `phrase`
says it to the user.
"""

import contextlib
import imaplib
import re
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import BinaryIO

from webapp.mail.phrases import N_, Phrase
from webapp.models.mailbox import Security

# Names a Sent folder goes by when the server marks none \Sent (RFC 6154 SPECIAL-USE).
SENT_NAMES = (
    "Sent",
    "Sent Items",
    "Sent Messages",
    "Sent Mail",
    "INBOX.Sent",
    "INBOX/Sent",
    "[Gmail]/Sent Mail",
)
_LIST_LINE = re.compile(rb'^\((?P<flags>[^)]*)\) (?P<delim>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)$')
_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_LITERAL = re.compile(rb"\{(\d+)\}\r?\n\Z")
_FETCH = re.compile(rb"\* \d+ FETCH ", re.IGNORECASE)


class ErrorKind(StrEnum):
    """What stopped a connection, for the settings page and the backoff."""

    AUTH = "auth"  # the server refused the user name or password
    UNREACHABLE = "unreachable"  # no answer: wrong host or port, server down, network
    TLS = "tls"  # the TLS handshake failed (certificate, protocol) or STARTTLS is not offered
    SERVER = "server"  # the server answered something we cannot use (a folder missing, a NO)
    REVOKED = "revoked"  # OAuth: the provider no longer renews the access (revoked, expired grant)
    OAUTH = "oauth"  # OAuth: the provider's token endpoint failed otherwise (down, misconfigured)
    QUOTA = "quota"  # the mailbox is full (over its quota): the copy to Sent was refused
    STORAGE = "storage"  # our side: the mail could not be stored here (our disk full, not writable)


_PHRASES = {
    ErrorKind.AUTH: N_("The server refused the user name or password."),
    ErrorKind.UNREACHABLE: N_("The server could not be reached (check the host and port): %(detail)s"),
    ErrorKind.TLS: N_("The secure connection failed (TLS): %(detail)s"),
    ErrorKind.SERVER: N_("The server answered with an error: %(detail)s"),
    ErrorKind.REVOKED: N_(
        "Access to this mailbox was withdrawn (the sign-in was revoked or has expired): "
        "connect it again. (%(detail)s)"
    ),
    ErrorKind.OAUTH: N_("The sign-in provider could not renew the access: %(detail)s"),
    ErrorKind.QUOTA: N_(
        "The mailbox is full (over its quota): make room in it and sync resumes by itself. (%(detail)s)"
    ),
    ErrorKind.STORAGE: N_(
        "Hiremail could not store this mailbox's mail (its own disk is full or cannot be written): "
        "nothing was lost, and sync resumes by itself. (%(detail)s)"
    ),
}
# How servers say a mailbox is full: RFC 5530's OVERQUOTA code, or plain words (older servers).
_FULL = re.compile(rb"\[OVERQUOTA\]|quota|mailbox (is )?full", re.IGNORECASE)


class MailboxError(Exception):
    """A mailbox could not be used; `kind` says why, `detail` gives the server's or the system's words."""

    def __init__(self, kind: ErrorKind, detail: str = ""):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail[:500]

    @property
    def phrase(self) -> Phrase:
        """What to tell the user."""
        return phrase_for(self.kind, self.detail)


def phrase_for(kind: str, detail: str) -> Phrase:
    """The sentence shown for an error of `kind` (as stored with a connection)."""
    template = _PHRASES.get(kind)  # type: ignore[call-overload]  # a StrEnum key matches its string
    if template is None:
        return N_("The sync failed: %(detail)s", detail=detail)
    return N_(template.text, detail=detail) if "%(detail)s" in template.text else template


@dataclass(frozen=True)
class Server:
    """Where a mailbox is and how to log in: with a password, or (XOAUTH2) an OAuth access token.

    `renew`, for XOAUTH2: gets a fresh access token when the server refuses this one (once).
    """

    host: str
    port: int
    security: str
    username: str
    password: str  # XOAUTH2: the access token
    mechanism: str = "password"
    renew: Callable[[], str] | None = field(default=None, compare=False, repr=False)

    def __repr__(self) -> str:  # never the password or token in a log line
        return f"Server({self.host}:{self.port}, {self.security}, {self.username}, {self.mechanism})"


XOAUTH2 = "xoauth2"


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


def _text(exc: BaseException) -> str:
    args = getattr(exc, "args", ())
    if args and isinstance(args[0], bytes):
        return args[0].decode(errors="replace")
    return str(exc) or type(exc).__name__


def connect(server: Server, *, timeout: float, ca_file: str | None = None) -> imaplib.IMAP4:
    """An IMAP connection, logged in; raises MailboxError (closing what it opened)."""
    conn: imaplib.IMAP4 | None = None
    try:
        if server.security == Security.TLS:
            conn = imaplib.IMAP4_SSL(
                server.host, server.port, ssl_context=_tls_context(ca_file), timeout=timeout
            )
        else:
            conn = imaplib.IMAP4(server.host, server.port, timeout=timeout)
            if server.security == Security.STARTTLS:
                if "STARTTLS" not in conn.capabilities:
                    raise MailboxError(ErrorKind.TLS, "the server does not offer STARTTLS")
                conn.starttls(_tls_context(ca_file))
    except MailboxError:
        _close(conn)
        raise
    except ssl.SSLError as exc:  # before OSError, of which it is a kind
        _close(conn)
        raise MailboxError(ErrorKind.TLS, getattr(exc, "verify_message", None) or _text(exc)) from exc
    except (OSError, EOFError) as exc:
        _close(conn)
        raise MailboxError(ErrorKind.UNREACHABLE, _text(exc)) from exc
    except imaplib.IMAP4.error as exc:
        _close(conn)
        raise MailboxError(ErrorKind.SERVER, _text(exc)) from exc
    try:
        _log_in(conn, server)
    except MailboxError:
        _close(conn)
        raise
    except imaplib.IMAP4.error as exc:
        _close(conn)
        raise MailboxError(ErrorKind.AUTH, _text(exc)) from exc
    except (OSError, EOFError) as exc:
        _close(conn)
        raise MailboxError(ErrorKind.UNREACHABLE, _text(exc)) from exc
    return conn


def _log_in(conn: imaplib.IMAP4, server: Server) -> None:
    """LOGIN with the password, or AUTHENTICATE XOAUTH2 with the token (renewed once if refused)."""
    if server.mechanism != XOAUTH2:
        conn.login(server.username, server.password)
        return
    try:
        _xoauth2(conn, server.username, server.password)
    except imaplib.IMAP4.error:
        if server.renew is None:
            raise
        # The token may have been cut short (revoked, a clock off): a fresh one, once.
        _xoauth2(conn, server.username, server.renew())


def _xoauth2(conn: imaplib.IMAP4, username: str, token: str) -> None:
    sent = []

    def respond(_challenge: bytes) -> bytes:
        # First the credentials; a refusal comes as a challenge (JSON) to be answered empty.
        sent.append(True)
        return f"user={username}\x01auth=Bearer {token}\x01\x01".encode() if len(sent) == 1 else b""

    conn.authenticate("XOAUTH2", respond)


def _close(conn: imaplib.IMAP4 | None) -> None:
    if conn is None:
        return
    with contextlib.suppress(Exception):  # already gone: nothing to close
        conn.shutdown()


def logout(conn: imaplib.IMAP4) -> None:
    """Say goodbye, ignoring a connection that is already gone."""
    try:
        conn.logout()
    except Exception:  # a dead connection needs no goodbye
        _close(conn)


def quote(name: str) -> str:
    """A mailbox name as an IMAP quoted string."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(value: bytes) -> str:
    text = value.decode("utf-8", errors="replace")
    if text.startswith('"') and text.endswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def list_folders(conn: imaplib.IMAP4) -> list[tuple[str, set[str]]]:
    """Every folder's name and attributes (\\Sent, \\Noselect...)."""
    typ, data = conn.list()
    if typ != "OK":
        raise MailboxError(ErrorKind.SERVER, "LIST failed")
    folders = []
    items = iter(data)
    for item in items:
        if isinstance(item, tuple):  # a name sent as a literal
            head, literal = item
            match = _LIST_LINE.match(head.rstrip() + b" X")
            name = literal.decode("utf-8", errors="replace")
        elif item:
            match = _LIST_LINE.match(item)
            name = _unquote(match.group("name")) if match else ""
        else:
            continue
        if match:
            flags = {f.lower() for f in match.group("flags").decode(errors="replace").split()}
            folders.append((name, flags))
    return folders


def find_sent_folder(conn: imaplib.IMAP4) -> str | None:
    """The folder the server marks \\Sent, else one named as Sent folders usually are."""
    folders = list_folders(conn)
    for name, flags in folders:
        if "\\sent" in flags and "\\noselect" not in flags:
            return name
    names = {name.lower(): name for name, flags in folders if "\\noselect" not in flags}
    return next((names[n.lower()] for n in SENT_NAMES if n.lower() in names), None)


def examine(conn: imaplib.IMAP4, folder: str) -> int:
    """Open `folder` read-only; its UIDVALIDITY."""
    typ, data = conn.select(quote(folder), readonly=True)
    if typ != "OK":
        raise MailboxError(ErrorKind.SERVER, f"cannot open folder {folder}: {_text(Exception(*data))}")
    # SELECT flushes the earlier untagged responses: this UIDVALIDITY is the folder's.
    values = [v for v in conn.untagged_responses.get("UIDVALIDITY") or [] if isinstance(v, bytes)]
    if not values:
        raise MailboxError(ErrorKind.SERVER, f"folder {folder} has no UIDVALIDITY")
    setattr(conn, "_hiremail_open_folder", folder)  # noqa: B010  (imaplib's object has no slot for it)
    return int(values[-1])


def open_folder(conn: imaplib.IMAP4) -> str | None:
    """The folder `examine` opened last on this connection."""
    return getattr(conn, "_hiremail_open_folder", None)


def uids_after(conn: imaplib.IMAP4, last_uid: int) -> list[int]:
    """The UIDs above `last_uid` in the open folder, in order."""
    typ, data = conn.uid("SEARCH", f"UID {last_uid + 1}:*")
    if typ != "OK":
        raise MailboxError(ErrorKind.SERVER, "SEARCH failed")
    # "n:*" always names the highest UID, even below n: keep only the new ones.
    return sorted(u for u in (int(x) for x in b" ".join(d for d in data if d).split()) if u > last_uid)


@dataclass
class Fetched:
    """One message of a FETCH answer: its UID, size and the literal asked for."""

    uid: int
    size: int
    data: bytes


def uid_set(uids: Iterable[int]) -> str:
    """`uids` as an IMAP sequence set, runs of consecutive UIDs as ranges ("1:500,502")."""
    parts: list[str] = []
    start = end = None
    for uid in sorted(set(uids)):
        if end is not None and uid == end + 1:
            end = uid
            continue
        if start is not None:
            parts.append(f"{start}:{end}" if end != start else str(start))
        start = end = uid
    if start is not None:
        parts.append(f"{start}:{end}" if end != start else str(start))
    return ",".join(parts)


def fetch(conn: imaplib.IMAP4, uids: Iterable[int], items: str) -> list[Fetched]:
    """FETCH `items` for `uids` (one command); each message's UID, RFC822.SIZE if asked, and literal.

    The answer is read straight off the connection's buffered file, a line and a literal at a
    time: imaplib's generic reader (a regex or three a line, every answer kept by type) costs
    several times more a message, and a sync reads the headers of every message of a mailbox.
    The whole answer is read before returning, so the connection is ready for the next command.
    """
    wanted = uid_set(uids)
    if not wanted:
        return []
    tag = conn._new_tag()
    try:
        conn.send(b"%s UID FETCH %s (%s)\r\n" % (tag, wanted.encode(), items.encode()))
        return _fetch_answer(conn, tag + b" ")
    finally:
        conn.tagged_commands.pop(tag, None)


def _fetch_answer(conn: imaplib.IMAP4, tagged: bytes) -> list[Fetched]:
    """The FETCH responses up to the tagged completion; untagged answers without a literal are skipped."""
    file: BinaryIO = conn.file  # type: ignore[assignment]  # typeshed: str or bytes; imaplib opens it "rb"
    out: list[Fetched] = []
    while True:
        line = _line(conn, file)
        if line.startswith(tagged):
            if line[len(tagged) :].startswith(b"OK"):
                return out
            raise MailboxError(ErrorKind.SERVER, f"FETCH failed: {line!r:.200}")
        if line.startswith(b"* BYE"):
            raise conn.abort(f"server said BYE: {line!r:.200}")
        meta, literal = line, None  # the literal: the first one of the response
        while (size := _LITERAL.search(line)) is not None:  # a literal follows, then more of the line
            data = file.read(int(size.group(1)))
            if len(data) < int(size.group(1)):
                raise conn.abort("socket error: EOF in a literal")
            literal = data if literal is None else literal
            line = _line(conn, file)
            meta += b" " + line
        if literal is not None and _FETCH.match(meta):
            out.append(_fetched(meta, literal))


def _line(conn: imaplib.IMAP4, file: BinaryIO) -> bytes:
    line = file.readline(imaplib._MAXLINE + 1)  # type: ignore[attr-defined]
    if not line:
        raise conn.abort("socket error: EOF")
    if len(line) > imaplib._MAXLINE:  # type: ignore[attr-defined]
        raise conn.error(f"got more than {imaplib._MAXLINE} bytes")  # type: ignore[attr-defined]
    return line


def _fetched(meta: bytes, literal: bytes) -> Fetched:
    uid = _UID.search(meta)
    size = _SIZE.search(meta)
    return Fetched(int(uid.group(1)) if uid else 0, int(size.group(1)) if size else len(literal), literal)


def append(conn: imaplib.IMAP4, folder: str, raw: bytes, when: datetime | None) -> None:
    """Add `raw` to `folder`, flagged \\Seen, dated `when` (its INTERNALDATE)."""
    date = imaplib.Time2Internaldate(when.timestamp()) if when is not None else None
    typ, data = conn.append(quote(folder), "(\\Seen)", date, raw)
    if typ != "OK":
        words = b" ".join(d for d in data if isinstance(d, bytes))
        kind = ErrorKind.QUOTA if _FULL.search(words) else ErrorKind.SERVER
        raise MailboxError(kind, f"APPEND failed: {words.decode(errors='replace'):.200}")


def has_message_id(conn: imaplib.IMAP4, message_id: str) -> bool:
    """Whether the open folder holds a message with this Message-ID header."""
    typ, data = conn.uid("SEARCH", "HEADER", "Message-ID", quote(message_id))
    return typ == "OK" and any(d.strip() for d in data if d)


def network_error(exc: BaseException) -> MailboxError:
    """A connection lost in the middle of a sync, as a MailboxError."""
    if isinstance(exc, MailboxError):
        return exc
    if isinstance(exc, ssl.SSLError):
        return MailboxError(ErrorKind.TLS, _text(exc))
    if isinstance(exc, (OSError, EOFError, socket.timeout, imaplib.IMAP4.abort)):
        return MailboxError(ErrorKind.UNREACHABLE, _text(exc))
    return MailboxError(ErrorKind.SERVER, _text(exc))


def offers(conn: imaplib.IMAP4, capability: str) -> bool:
    """Whether the server offers `capability` (IDLE, CONDSTORE...) to the logged-in user.

    Asked once per connection: what the greeting listed (imaplib's `capabilities`) is the
    list before login, which often lacks CONDSTORE and the like.
    """
    known = getattr(conn, "_hiremail_capabilities", None)
    if known is None:
        typ, data = conn.capability()
        words = data[-1] if typ == "OK" and data and isinstance(data[-1], bytes) else b""
        known = {w.upper() for w in words.decode(errors="replace").split()} | set(conn.capabilities)
        setattr(conn, "_hiremail_capabilities", known)  # noqa: B010  (imaplib's object has no slot for it)
    return capability.upper() in known


@dataclass(frozen=True)
class FolderStatus:
    """A folder as STATUS tells it, without opening it."""

    uidvalidity: int
    uidnext: int
    highestmodseq: int | None  # None: the server has no CONDSTORE


_STATUS_ITEM = re.compile(rb"(UIDVALIDITY|UIDNEXT|HIGHESTMODSEQ) (\d+)", re.IGNORECASE)


def status(conn: imaplib.IMAP4, folder: str) -> FolderStatus:
    """UIDVALIDITY, UIDNEXT and (with CONDSTORE) HIGHESTMODSEQ of a folder, without opening it."""
    items = "(UIDVALIDITY UIDNEXT HIGHESTMODSEQ)" if offers(conn, "CONDSTORE") else "(UIDVALIDITY UIDNEXT)"
    typ, data = conn.status(quote(folder), items)
    if typ != "OK":
        raise MailboxError(ErrorKind.SERVER, f"cannot read folder {folder}: {_text(Exception(*data))}")
    found = {
        k.upper(): int(v) for k, v in _STATUS_ITEM.findall(b" ".join(d for d in data if isinstance(d, bytes)))
    }
    if b"UIDVALIDITY" not in found:
        raise MailboxError(ErrorKind.SERVER, f"folder {folder} has no UIDVALIDITY")
    return FolderStatus(found[b"UIDVALIDITY"], found.get(b"UIDNEXT", 0), found.get(b"HIGHESTMODSEQ"))


_EXISTS = re.compile(rb"^\* \d+ EXISTS\b", re.IGNORECASE)


def idle(conn: imaplib.IMAP4, timeout: float, stop: threading.Event | None = None) -> bool:
    """IDLE (RFC 2177) on the open folder until new mail (EXISTS), `timeout` s or `stop`; whether mail came.

    imaplib has no IDLE before Python 3.14: the command is written by hand and the answers
    read straight off the socket (with select, so the wait has a timeout without breaking
    imaplib's buffered reader, which holds nothing between commands). Raises MailboxError.
    """
    sock = conn.socket()
    tag = conn._new_tag()  # imaplib's own tag counter, as its commands use
    conn.tagged_commands.pop(tag, None)
    lines = _Lines(sock)
    try:
        conn.send(tag + b" IDLE\r\n")
        first = lines.next(30.0)
        if first is None or not first.startswith(b"+"):
            raise MailboxError(ErrorKind.SERVER, f"IDLE refused: {first!r:.200}")
        deadline = time.monotonic() + timeout
        changed = False
        while not changed and not (stop is not None and stop.is_set()):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            line = lines.next(min(left, 1.0))
            if line is not None and line.startswith(b"* BYE"):
                raise MailboxError(ErrorKind.UNREACHABLE, line.decode(errors="replace").strip())
            changed = line is not None and bool(_EXISTS.match(line))
        conn.send(b"DONE\r\n")
        while True:  # what came meanwhile, then the end of the command
            line = lines.next(30.0)
            if line is None:
                raise MailboxError(ErrorKind.UNREACHABLE, "no answer to DONE")
            changed = changed or bool(_EXISTS.match(line))
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1 :].upper().startswith(b"OK"):
                    raise MailboxError(ErrorKind.SERVER, f"IDLE ended with {line!r:.200}")
                return changed
    except (OSError, EOFError) as exc:
        raise network_error(exc) from exc


class _Lines:
    """Lines read off a socket with a timeout (select), for the length of one IDLE."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def next(self, timeout: float) -> bytes | None:
        """The next line (with its CRLF), or None after `timeout` seconds without one."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buffer:
            pending = isinstance(self.sock, ssl.SSLSocket) and self.sock.pending()
            left = deadline - time.monotonic()
            if not pending and (left <= 0 or not select.select([self.sock], [], [], left)[0]):
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the server closed the connection")
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"
