"""Parse raw RFC 5322 bytes into the fields we store, without ever raising on bad mail."""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

import nh3

SNIPPET_LENGTH = 200
# Bidi overrides and other invisible controls that can disguise a filename's extension.
_UNSAFE_FILENAME_CHARS = re.compile(r"[\x00-\x1f\x7f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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


def _header(msg, name: str) -> str | None:
    try:
        value = msg.get(name)
    except Exception as exc:  # a header the policy cannot parse
        return f"{type(exc).__name__}"
    if value is None:
        return None
    return str(value).strip()


def _addresses(msg, name: str) -> list[str]:
    try:
        values = msg.get_all(name) or []
        pairs = getaddresses([str(v) for v in values])
    except Exception:
        return []
    return [addr.lower() for _, addr in pairs if addr and "@" in addr]


def _date(msg) -> datetime | None:
    raw = _header(msg, "Date")
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
    try:
        return part.get_content()
    except Exception:
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")


def parse(raw: bytes) -> ParsedMail:
    """Parse `raw`; problems become `defects`, never exceptions."""
    msg = message_from_bytes(raw, policy=policy.default)
    out = ParsedMail(email=msg)
    out.defects = [type(d).__name__ for d in msg.defects]
    out.message_id = _header(msg, "Message-ID")
    out.in_reply_to = _header(msg, "In-Reply-To")
    out.references = _header(msg, "References")
    out.subject = " ".join((_header(msg, "Subject") or "").split())
    name, addr = parseaddr(_header(msg, "From") or "")
    out.from_name, out.from_address = name.strip(), addr.strip().lower()
    out.to = _addresses(msg, "To")
    out.cc = _addresses(msg, "Cc")
    out.date = _date(msg)
    try:
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            out.text = _part_text(body)
        html = msg.get_body(preferencelist=("html",))
        if html is not None:
            out.html = _part_text(html)
        for part in msg.iter_attachments():
            data = part.get_payload(decode=True) or b""
            disposition = part.get_content_disposition()
            out.attachments.append(
                ParsedAttachment(
                    filename=safe_filename(part.get_filename()),
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


def header_size(raw: bytes) -> int:
    """Bytes before the first blank line (the header section)."""
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return min(ends) if ends else len(raw)


def limit_violations(raw: bytes, msg: EmailMessage, limits: Limits | None = None) -> list[str]:
    """The limits `msg` breaks (empty when it is fine to classify)."""
    limits = limits or Limits()
    problems = []
    if header_size(raw) > limits.header_bytes:
        problems.append(f"header section over {limits.header_bytes} bytes")
    parts, decoded, deepest = 0, 0, 0
    stack = [(msg, 0)]
    while stack:  # iterative: a hostile nesting must not blow the Python stack
        part, depth = stack.pop()
        parts += 1
        deepest = max(deepest, depth)
        if depth > limits.depth or parts > limits.parts:
            break
        payload = part.get_payload()
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
