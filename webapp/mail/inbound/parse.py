"""Parse raw RFC 5322 bytes into the fields we store, without ever raising on bad mail."""

import binascii
import io
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.feedparser import BytesFeedParser
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any, BinaryIO, cast

import nh3

from webapp.mail.inbound.addresslimits import (
    ADDRESS_HEADERS,
    AddressLimits,
    PolicyBudget,
    address_problems,
    unfolded,
)
from webapp.mail.inbound.headers import header_texts, header_value, part_text, plain_mailboxes
from webapp.mail.inbound.mimesplit import split_parse
from webapp.mail.msgids import raw_header

SNIPPET_LENGTH = 200
# Bidi overrides and other invisible controls that can disguise a filename's extension.
_UNSAFE_FILENAME_CHARS = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Bytes fed to the parser at a time, past WHOLE_BYTES: the raw message is never needed whole.
FEED_CHUNK = 64 * 1024
# Messages up to this size are read whole and split (mimesplit): nearly all mail, CVs and
# portfolios included. Read whole, a message costs less at peak than fed in chunks (its bytes,
# its text and its payloads: 2 times its size for base64 attachments, against 2.75); bigger
# ones are fed all the same, so that one the splitter leaves to the feed parser is not held
# twice.
WHOLE_BYTES = 4 * 1024 * 1024
# Base64 that the stdlib would decode strictly, without defects: alphabet, line breaks, end padding.
_CLEAN_BASE64 = re.compile(r"[A-Za-z0-9+/\r\n]*+={0,2}+[\r\n]*+")  # possessive: linear on any input


class _HeaderClasses(HeaderRegistry):
    """The stdlib registry builds a new class on every header access; build each one once."""

    def __init__(self):
        super().__init__()
        self._classes: dict[str, type] = {}

    def __getitem__(self, name):
        key = name.lower() if name.lower() in self.registry else ""  # bounded: known names only
        if key not in self._classes:
            self._classes[key] = super().__getitem__(name)
        return self._classes[key]


class _Policy(EmailPolicy):
    """`policy.default`, except that each message keeps the header values it has parsed.

    Classification reads the same headers many times (Subject, Content-Type of every part...)
    and the stdlib parses the value again on each read. Header objects are immutable and a
    name and value always parse the same, so handing out the same object changes nothing.
    The cache belongs to one message (all its parts share its policy) and goes with it.
    """

    _parsed_headers: dict[tuple[str, str], Any]  # set by _policy()
    _address_budget: PolicyBudget  # set by _policy()

    def header_fetch_parse(self, name, value):
        if hasattr(value, "name"):
            return super().header_fetch_parse(name, value)
        # Its parser is quadratic on hostile address values: past a length, and past a budget
        # per message, the value is handed out as raw text, for the linear readers.
        if (
            name.lower() in ADDRESS_HEADERS
            and (name, value) not in self._parsed_headers
            and not self._address_budget.spend(value)
        ):
            return unfolded(value)
        if len(value) > _CACHED_VALUE_LENGTH:
            return self._header(name, value)
        cache = self._parsed_headers
        key = (name, value)
        if key not in cache:
            header = self._header(name, value)
            if len(cache) >= _CACHED_HEADERS:
                return header
            cache[key] = header
        return cache[key]

    def _header(self, name, value):
        """The header as text (_HeaderText) if it is a plain MIME one or plain text, else as its object."""
        plain = _READ_AS_TEXT.get(name.lower())
        if plain is not None:
            text = _LINE_BREAKS.sub("", value)
            if plain.fullmatch(text) and "=?" not in text:
                return _HeaderText(name, text, self)
        return super().header_fetch_parse(name, value)


class _HeaderText(str):
    """A header as its text, parsed only if one of its attributes is asked for.

    The parser asks every part for its Content-Type (multipart? which boundary?), and the
    readers ask again, for the type (`get_content_type()`), the parameters (`get_param()`),
    the disposition, the transfer encoding: all read from the header's text. Parsing it
    into a header object cost 0.1 ms each, a sixth of parsing a message. For a plain value
    (_PLAIN_MIME), what is read from the text is what the object gives (the object only
    quotes the parameters it writes back). Any other value, and any attribute (`.params`,
    `.defects`...), gets the real object.

    Subject and Date too, in printable ASCII without encoded words (_PLAIN_TEXT): every
    message's Subject and Date went through the stdlib's token parser (0.05 ms each) for a
    text the reader gets whole. A plain Subject object reads as its text; a Date object reads
    as the date written again, which the reader (`_date`) parses to the same moment.
    """

    _header: tuple[str, str, "_Policy"]  # its name, its text, the message's policy

    def __new__(cls, name: str, value: str, policy: "_Policy"):
        self = super().__new__(cls, value)
        self._header = (name, value, policy)
        return self

    def __getattr__(self, attribute: str):
        # Only for what a str has not: parsed once, then asked of the real header object.
        if attribute.startswith("__") or attribute == "_header":
            raise AttributeError(attribute)
        name, value, policy = self._header
        parsed = self.__dict__.get("_parsed")
        if parsed is None:
            parsed = self.__dict__["_parsed"] = EmailPolicy.header_fetch_parse(policy, name, value)
        return getattr(parsed, attribute)


# Values read as text: `type/subtype; name=value; name="value"`, in ASCII, the values tokens
# or quoted strings without escapes, and no encoded word (RFC 2047). Not RFC 2231 parameters
# (`name*0=`, `title*=`: no `*` in a name), comments, empty values: the object reads those
# decoded, or otherwise than the text would.
# Possessive throughout: linear on any value, however hostile.
_TOKEN = r"[!#$%&'+\-.0-9A-Z^_`a-z{|}~]++"
_QUOTED = r'"[ \t!#-\[\]-~]*+"'
_PLAIN_MIME = re.compile(
    rf"{_TOKEN}(?:/{_TOKEN})?+(?:[ \t]*+;[ \t]*+{_TOKEN}=(?:{_TOKEN}|{_QUOTED}))*+[ \t]*+;?+[ \t]*+"
)
# Unstructured text the object would give back as it is: printable ASCII, spaces and tabs.
_PLAIN_TEXT = re.compile(r"[ \t!-~]*+")
# Headers read as text (see _HeaderText) when their value is plain: the pattern it must match.
_READ_AS_TEXT = {
    "content-type": _PLAIN_MIME,
    "content-disposition": _PLAIN_MIME,
    "content-transfer-encoding": _PLAIN_MIME,
    "subject": _PLAIN_TEXT,
    "date": _PLAIN_TEXT,
}
_LINE_BREAKS = re.compile(r"[\r\n]")  # as the stdlib unfolds a header before parsing it
# Short values only: a parsed address list keeps ~300 bytes of parse tree per character.
_CACHED_VALUE_LENGTH = 200
_CACHED_HEADERS = 128
_HEADER_CLASSES = _HeaderClasses()


def _policy() -> _Policy:
    """A fresh policy (and header cache) for one message."""
    policy = _Policy(header_factory=_HEADER_CLASSES)
    object.__setattr__(policy, "_parsed_headers", {})  # policies refuse ordinary attribute writes
    object.__setattr__(policy, "_address_budget", PolicyBudget())
    return policy


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    is_inline: bool = False
    content_id: str | None = None


@dataclass
class ParsedMail:
    message_id: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    subject: str = ""
    from_name: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    date: datetime | None = None
    text: str = ""
    html: str | None = None
    attachments: list[ParsedAttachment] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    email: EmailMessage | None = None

    @property
    def snippet(self) -> str:
        return make_snippet(self.text or html_to_text(self.html or ""))


def safe_filename(name: str | None, fallback: str = "attachment") -> str:
    """A filename with no path, no control or bidi-override characters, never empty."""
    name = unicodedata.normalize("NFC", name or "")
    name = _UNSAFE_FILENAME_CHARS.sub("", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().lstrip(".")
    return name[:255] or fallback


def html_to_text(html: str) -> str:
    """Visible text of an HTML body, for snippets."""
    text = nh3.clean(html, tags=set(), clean_content_tags={"script", "style", "head", "title"})
    return re.sub(r"&nbsp;|&#160;", " ", text)


def make_snippet(text: str) -> str:
    # Quoted history ("> ...") says nothing new; skip it in the preview.
    lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith(">")]
    flat = " ".join(" ".join(lines).split())
    return flat[:SNIPPET_LENGTH]


def _sender(msg, refused: dict[str, str]) -> tuple[str, str]:
    """(display name, address) of the first From header; none from a From over the limits."""
    if "from" in refused:
        return "", ""
    plain = plain_mailboxes(msg, "From")
    if plain is None:
        return parseaddr(header_value(msg, "From"))
    return parseaddr(plain[0] if plain else "")


def _addresses(msg, name: str, refused: dict[str, str]) -> list[str]:
    """The addresses of header `name`; none from a header over the limits (never parsed)."""
    if name.lower() in refused:
        return []
    try:
        values = plain_mailboxes(msg, name)
        if values is None:
            values = [str(v) for v in (msg.get_all(name) or [])]
        pairs = getaddresses(values)
    except Exception:
        return []
    return [addr.lower() for _, addr in pairs if addr and "@" in addr]


def _date(msg) -> datetime | None:
    raw = header_value(msg, "Date")
    if not raw:
        return None
    try:
        value = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _part_text(part) -> str:
    return part_text(part)


# Names for attachments that carry none: an attached message opens as .eml, headers as text.
_FALLBACK_NAMES = {
    "message/rfc822": "message.eml",
    "message/global": "message.eml",
    "text/rfc822-headers": "headers.txt",
    "message/delivery-status": "delivery-status.txt",
    "message/global-delivery-status": "delivery-status.txt",
    "message/disposition-notification": "disposition-notification.txt",
    "message/feedback-report": "feedback-report.txt",
}


def _attached_message(part) -> bytes | None:
    """The bytes of an attached message (or a DSN's fields): the stdlib's decoded payload is None."""
    payload = part.get_payload()
    if not isinstance(payload, list) or not payload:
        return None
    try:
        if part.get_content_type() in ("message/rfc822", "message/global"):
            return payload[0].as_bytes()
        return b"\n".join(block.as_bytes() for block in payload)  # a DSN's field blocks
    except Exception:  # a message too broken to write back: its part stays empty
        return None


def _decoded_payload(part) -> bytes | None:
    """`part.get_payload(decode=True)`, without its copies for clean base64.

    The stdlib encodes the text to bytes, splits it into lines and joins them before decoding:
    about four times the attachment in memory at once. For base64 it would decode strictly
    with no defect (alphabet, line breaks and end padding only, whole quanta), binascii reads
    the text in place and gives the same bytes; anything else takes the stdlib's path.
    """
    payload = part._payload
    if (
        isinstance(payload, str)
        and payload.isascii()
        and not part.is_multipart()
        and str(part.get("content-transfer-encoding", "")).lower() == "base64"
        and (len(payload) - payload.count("\r") - payload.count("\n")) % 4 == 0
        and _CLEAN_BASE64.fullmatch(payload)
    ):
        return binascii.a2b_base64(payload)
    return part.get_payload(decode=True)


def parse_file(fh: BinaryIO, head_bytes: int = 0) -> tuple["ParsedMail", bytes]:
    """Parse the message read from `fh`; also return its first `head_bytes` bytes.

    A message up to WHOLE_BYTES is read whole and, if well formed, split by mimesplit (the
    tree the feed parser builds, without its loop over every line): its bytes, its text and
    its payloads, about 2 times its size at peak. A bigger one is fed in chunks: never in
    memory twice, about 2.75 times its size at peak, where `message_from_bytes` needs 8.
    """
    whole = _read_up_to(fh, WHOLE_BYTES + 1)
    head = whole[:head_bytes]
    if len(whole) <= WHOLE_BYTES:
        msg = split_parse(whole, _policy())
        if msg is not None:
            return _parsed(cast(EmailMessage, msg)), head
    parser = BytesFeedParser(policy=_policy())  # a fresh policy: nothing read by the attempt
    for at in range(0, len(whole), FEED_CHUNK):
        parser.feed(whole[at : at + FEED_CHUNK])
    del whole
    while chunk := fh.read(FEED_CHUNK):
        if len(head) < head_bytes:
            head += chunk[: head_bytes - len(head)]
        parser.feed(chunk)
    # An EmailPolicy builds EmailMessages; the stubs type what a parser returns as Message.
    return _parsed(cast(EmailMessage, parser.close())), head


def _read_up_to(fh: BinaryIO, size: int) -> bytes:
    """The next `size` bytes of `fh`, fewer only at its end."""
    data = fh.read(size)
    while len(data) < size and (more := fh.read(size - len(data))):
        data += more
    return data


def parse(raw: bytes) -> ParsedMail:
    """Parse `raw`; problems become `defects`, never exceptions."""
    return parse_file(io.BytesIO(raw))[0]


def _parsed(msg: EmailMessage) -> ParsedMail:
    """The fields we store, from a parsed message."""
    out = ParsedMail(email=msg)
    out.defects = [type(d).__name__ for d in msg.defects]
    # Identifiers as received, never decoded (webapp/mail/msgids.py).
    out.message_id = raw_header(msg, "Message-ID") or None
    out.in_reply_to = raw_header(msg, "In-Reply-To") or None
    out.references = raw_header(msg, "References") or None
    out.subject = header_texts(msg, "Subject")[0]  # raw 8-bit subjects read in their likely charset
    # Address headers over the limits are left unparsed; limit_violations() then quarantines.
    refused = address_problems(msg)
    try:
        name, addr = _sender(msg, refused)
    except Exception:  # e.g. RecursionError from parseaddr: no sender rather than no message
        name, addr = "", ""
    out.from_name, out.from_address = name.strip(), addr.strip().lower()
    out.to = _addresses(msg, "To", refused)
    out.cc = _addresses(msg, "Cc", refused)
    out.date = _date(msg)
    try:
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            out.text = _part_text(body)
        html = msg.get_body(preferencelist=("html",))
        if html is not None:
            out.html = _part_text(html)
        for part in msg.iter_attachments():
            data = _attached_message(part) if part.get_content_maintype() == "message" else None
            data = data or _decoded_payload(part) or b""
            disposition = part.get_content_disposition()
            out.attachments.append(
                ParsedAttachment(
                    filename=safe_filename(
                        part.get_filename(), _FALLBACK_NAMES.get(part.get_content_type(), "attachment")
                    ),
                    content_type=part.get_content_type(),
                    data=data,
                    is_inline=disposition == "inline",
                    content_id=(part.get("Content-ID") or "").strip("<> ") or None,
                )
            )
    except Exception as exc:
        out.defects.append(f"{type(exc).__name__}: {exc}")
    return out


@dataclass(frozen=True)
class Limits:
    """What a message may not exceed before it is quarantined instead of classified."""

    header_bytes: int = 512 * 1024
    depth: int = 30
    parts: int = 1000
    decoded_bytes: int = 100 * 1024 * 1024
    address_headers: AddressLimits = AddressLimits()


def _undecoded_payload(part):
    """`part.get_payload()`, without the full copy it makes of an ASCII body.

    get_payload() encodes the whole text only to learn that it has no surrogates (undecodable
    bytes); ASCII text cannot have any, so the stored payload is what it would return.
    """
    payload = part._payload
    if isinstance(payload, list) or (isinstance(payload, str) and payload.isascii()):
        return payload
    return part.get_payload()


def header_size(raw: bytes) -> int:
    """Bytes before the first blank line (the header section)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def limit_violations(raw: bytes, msg: EmailMessage, limits: Limits | None = None) -> list[str]:
    """The limits `msg` breaks (empty when it is fine to classify).

    `raw` may be only the message's first `header_bytes + 4` bytes: a blank line that ends the
    header section within the limit lies wholly inside them, so the verdict is the same.
    """
    limits = limits or Limits()
    problems = []
    if header_size(raw) > limits.header_bytes:
        problems.append(f"header section over {limits.header_bytes} bytes")
    problems += address_problems(msg, limits.address_headers).values()
    parts, decoded, deepest = 0, 0, 0
    stack = [(msg, 0)]
    while stack:  # iterative: a hostile nesting must not blow the Python stack
        part, depth = stack.pop()
        parts += 1
        deepest = max(deepest, depth)
        if depth > limits.depth or parts > limits.parts:
            break
        payload = _undecoded_payload(part)
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in payload if hasattr(child, "get_payload"))
        elif isinstance(payload, str):
            decoded += len(payload)  # an upper bound of the decoded size, without decoding
    if deepest > limits.depth:
        problems.append(f"MIME nesting deeper than {limits.depth}")
    if parts > limits.parts:
        problems.append(f"more than {limits.parts} MIME parts")
    if decoded > limits.decoded_bytes:
        problems.append(f"decoded size over {limits.decoded_bytes} bytes")
    return problems
