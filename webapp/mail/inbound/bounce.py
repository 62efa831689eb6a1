"""Recognise delivery failure reports (DSNs and plain-text notices) and pull out what failed.

Pure functions over a parsed `EmailMessage`; nothing here raises, whatever the input.
Bounce detection runs before auto-reply detection, so this module must not use autoreply.py.
"""

import base64
import quopri
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from webapp.mail.inbound.headers import header_value

DIAGNOSTIC_LENGTH = 300

_TRANSFER_ENCODINGS = {"base64", "quoted-printable"}
_DSN_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_ORIGINAL_TYPES = {
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
}
# Reports about something other than delivery: spam complaints and read receipts.
_OTHER_REPORTS = {"feedback-report", "disposition-notification"}
# A DSN may also tell of successful deliveries (NOTIFY=SUCCESS); those are not failures.
_SUCCESS_ACTIONS = {"delivered", "relayed", "expanded"}

_DAEMON_LOCAL_PARTS = {"mailer-daemon", "mailerdaemon", "mailer_daemon", "mail-daemon", "postmaster"}
_DAEMON_NAME = re.compile(r"mail(er)?[ -]?daemon|postmaster|mail delivery (subsystem|system|service)", re.I)
# Only checked on mail from a daemon, so a broad "delay" is safe here.
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|non-?deliver|delivery (status notification|failure|failed|has failed|report|notification)"
    r"|(mail|message) delivery failed|failure notice|returned (mail|to sender)|could not be delivered"
    r"|\bdelay|warning: could not send",
    re.I,
)
_DELAY_SUBJECT = re.compile(r"\bdelay|still being retried|warning: could not send|will (be )?retr", re.I)
_DELAY_TEXT = re.compile(
    r"will (be )?retr(y|ied)|still being retried|warning only|do not need to resend"
    r"|has been delayed|delivery attempts will continue|not yet been delivered",
    re.I,
)
# Where a notice starts quoting the original message: everything after it is the sender's mail.
_QUOTE_START = re.compile(
    r"^[ \t-]*+(original message|this is a copy of the message|below this line is a copy"
    r"|undelivered message|returned message|unsent message|message headers follow)"
    r"|^(return-path|received|message-id|from|to|cc|subject|date|mime-version|dkim-signature):\s",
    re.I | re.M,
)
# The lookbehind starts a match only where a local part can start, keeping long words linear.
_ADDRESS = re.compile(r"(?<![\w.!#$%&'*+/=?^`{|}~-])[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?!\.?\d)")
_SMTP_CODE = re.compile(r"\b[45]\d\d[ -]")
_QUOTED_MESSAGE_ID = re.compile(r"^[ \t>]*+message-id:[ \t]*+(?:\r?\n[ \t>]+)?(<[^<>\s]+>)", re.I | re.M)
_BOILERPLATE = re.compile(
    r"^(this is the mail system at|this message was created automatically|this is an automatically generated"
    r"|\*+ attention \*+|--\s*\S*\s*postmaster$|\[https?://)",
    re.I,
)
# RFC 3463 subject.detail codes senders meet most, for reports that carry no text of their own.
_STATUS_TEXT = {
    "1.1": "The mailbox does not exist",
    "1.2": "The recipient's domain does not exist",
    "1.10": "The recipient address does not exist",
    "2.1": "The mailbox is disabled",
    "2.2": "The mailbox is full",
    "2.3": "The message is too large for the mailbox",
    "3.4": "The message is too large",
    "4.1": "The recipient's server did not answer",
    "4.4": "The recipient's domain could not be reached",
    "4.7": "Delivery time expired",
    "7.1": "Delivery was refused by policy",
}


@dataclass
class BounceReport:
    is_delay: bool  # a delivery delay (Action: delayed, or a "will retry" notice), not a failure
    recipients: list[str] = field(default_factory=list)  # failed addresses, lower-cased, no duplicates
    original_message_id: str | None = None  # "<...>" Message-ID of the message that bounced
    status: str | None = None  # enhanced status code, e.g. "5.1.1" or "4.4.7"
    diagnostic: str = ""  # a short reason for the sender, one line, at most DIAGNOSTIC_LENGTH chars


def parse_bounce(msg: EmailMessage) -> BounceReport | None:
    """The delivery failure `msg` reports, or None when it is not a bounce."""
    kind = _safely(_bounce_kind, msg, default=None)
    if kind is None:
        return None
    blocks = _safely(_dsn_recipient_blocks, msg, default=[]) if kind == "dsn" else []
    actions = [b.get("action", "").lower() for b in blocks]
    if actions and all(a in _SUCCESS_ACTIONS for a in actions):
        return None
    failing = [b for b, a in zip(blocks, actions, strict=True) if a not in _SUCCESS_ACTIONS]
    notice = _safely(_notice_text, msg, default="")
    head = _safely(_notice_head, notice, default="")
    report = BounceReport(is_delay=_safely(_is_delay, msg, actions, head, default=False))
    report.recipients = _safely(_recipients, msg, failing, head, default=[])
    report.original_message_id = _safely(_original_message_id, msg, notice, default=None)
    report.status = _safely(_status, failing, head, default=None)
    report.diagnostic = _safely(_diagnostic, failing, head, report, default="")
    return report


def _safely(fn, *args, default):
    # One unreadable field must not cost the others: each degrades to its default alone.
    try:
        return fn(*args)
    except Exception:
        return default


def _bounce_kind(msg) -> str | None:
    """'dsn' for a delivery-status report, 'notice' for a plain-text one, else None."""
    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type", "") or "").lower()
    if ctype in _DSN_TYPES or report_type in {"delivery-status", "global-delivery-status"}:
        return "dsn"
    if report_type in _OTHER_REPORTS:
        return None
    if any(p.get_content_type() in _DSN_TYPES for p in _parts(msg)):
        return "dsn"
    return "notice" if _looks_like_notice(msg) else None


def _looks_like_notice(msg) -> bool:
    """From a mail daemon and about a failed or delayed delivery."""
    subject = header_value(msg, "Subject")
    has_reason = bool(_BOUNCE_SUBJECT.search(subject) or header_value(msg, "X-Failed-Recipients"))
    return has_reason and _is_daemon_sender(msg)


def _is_daemon_sender(msg) -> bool:
    name, address = parseaddr(header_value(msg, "From"))
    local = address.rpartition("@")[0].lower() if "@" in address else address.lower()
    if local in _DAEMON_LOCAL_PARTS or _DAEMON_NAME.search(name):
        return True
    # Servers send bounces with an empty envelope sender, so they cannot bounce back.
    return header_value(msg, "Return-Path").strip() == "<>"


def _parts(msg):
    """`msg` and its MIME descendants, without entering attached messages."""
    yield msg
    if msg.is_multipart() and msg.get_content_maintype() == "multipart":
        for child in msg.get_payload():
            yield from _parts(child)


def _dsn_recipient_blocks(msg) -> list[dict[str, str]]:
    """The per-recipient field blocks of every delivery-status part."""
    blocks = []
    for part in _parts(msg):
        if part.get_content_type() in _DSN_TYPES:
            blocks += [b for b in _dsn_blocks(part) if _is_recipient_block(b)]
    return blocks


def _is_recipient_block(block: dict[str, str]) -> bool:
    return any(k in block for k in ("final-recipient", "original-recipient", "action", "status"))


def _dsn_blocks(part) -> list[dict[str, str]]:
    """Field blocks of a delivery-status part, whether stdlib split it into blocks or not."""
    payload = part.get_payload()
    encoding = header_value(part, "Content-Transfer-Encoding").lower()
    if isinstance(payload, list) and encoding not in _TRANSFER_ENCODINGS:
        return [_safely(_block_fields, sub, default={}) for sub in payload]
    if isinstance(payload, list):  # stdlib split the still-encoded text into bogus blocks
        payload = "\n\n".join(_safely(_block_source, sub, default="") for sub in payload)
    text = _decode(str(payload), encoding)
    return [_fields(chunk) for chunk in re.split(r"\r?\n[ \t]*\r?\n", text)]


def _block_source(block) -> str:
    lines = [f"{k}: {v}" for k, v in block.raw_items()]
    body = block.get_payload()
    return "\n".join(lines) + ("\n\n" + body if isinstance(body, str) else "")


def _decode(text: str, encoding: str) -> str:
    data = text.encode("ascii", errors="ignore")
    try:
        if encoding == "base64":
            return base64.b64decode(data).decode("utf-8", errors="replace")
        if encoding == "quoted-printable":
            return quopri.decodestring(data).decode("utf-8", errors="replace")
    except ValueError:  # bad padding: read it as it is
        pass
    return text


def _block_fields(block) -> dict[str, str]:
    return {k.strip().lower(): " ".join(str(v).split()) for k, v in block.raw_items()}


def _fields(chunk: str) -> dict[str, str]:
    """Header-like `Name: value` lines, with folded continuations joined."""
    fields: dict[str, str] = {}
    name = None
    for line in chunk.splitlines():
        if line[:1] in (" ", "\t") and name:
            fields[name] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            fields[name] = value.strip()
        else:
            name = None
    return fields


def _notice_text(msg) -> str:
    """The human-readable notice: the first text/plain part outside attached messages."""
    for part in _parts(msg):
        if part.get_content_type() == "text/plain":
            try:
                return part.get_content()
            except Exception:
                data = part.get_payload(decode=True) or b""
                return data.decode("utf-8", errors="replace")
    return ""


def _notice_head(notice: str) -> str:
    """The notice up to where it quotes the original message."""
    match = _QUOTE_START.search(notice)
    return notice[: match.start()] if match else notice


def _is_delay(msg, actions: list[str], head: str) -> bool:
    # The DSN's Action field is authoritative: "failed" with a 4.x.x status is a final give-up.
    if "failed" in actions:
        return False
    if "delayed" in actions:
        return True
    if _DELAY_SUBJECT.search(header_value(msg, "Subject")):
        return True
    return bool(_DELAY_TEXT.search(head))


def _recipients(msg, blocks: list[dict[str, str]], head: str) -> list[str]:
    """Failed addresses from the DSN, else from X-Failed-Recipients and the notice."""
    found = []
    for block in blocks:
        # Original-Recipient is the address as we sent it, before any forwarding.
        for name in ("original-recipient", "final-recipient"):
            found.append(_dsn_address(block.get(name, "")))
    if not any(found):
        found += [a for _, a in getaddresses([header_value(msg, "X-Failed-Recipients")])]
        found += _notice_addresses(msg, head)
    return _unique_addresses(found)


def _dsn_address(value: str) -> str:
    """The address of an `rfc822; <user@example.com>` field."""
    address = value.partition(";")[2] if ";" in value else value
    return address.strip().strip("<>").strip()


def _notice_addresses(msg, head: str) -> list[str]:
    # The notice also names the reporting server and the original sender: leave those out.
    known = {a.lower() for _, a in getaddresses([header_value(msg, h) for h in ("From", "To", "Sender")])}
    found = _ADDRESS.findall(head)
    return [a for a in found if a.lower() not in known]


def _unique_addresses(addresses: list[str]) -> list[str]:
    lowered = (a.lower() for a in addresses)
    kept = (a for a in lowered if "@" in a and a.partition("@")[0] not in _DAEMON_LOCAL_PARTS)
    return list(dict.fromkeys(kept))


def _original_message_id(msg, notice: str) -> str | None:
    """Message-ID of the bounced message: attached copy, quoted headers, else In-Reply-To."""
    for part in _parts(msg):
        if part.get_content_type() in _ORIGINAL_TYPES:
            found = _safely(_attached_message_id, part, default=None)
            if found:
                return found
    found = _QUOTED_MESSAGE_ID.search(notice)
    if found:
        return found.group(1)
    # Exchange threads its reports under the bounced message; others leave this empty.
    return _angle_id(header_value(msg, "In-Reply-To"))


def _attached_message_id(part) -> str | None:
    payload = part.get_payload()
    if isinstance(payload, list) and payload:
        return _angle_id(header_value(payload[0], "Message-ID"))
    data = part.get_payload(decode=True)
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else str(payload)
    found = _QUOTED_MESSAGE_ID.search(text)
    return found.group(1) if found else None


def _angle_id(value: str) -> str | None:
    found = re.search(r"<[^<>\s]+>", value)
    return found.group(0) if found else None


def _status(blocks: list[dict[str, str]], head: str) -> str | None:
    """The enhanced status code: DSN Status, else one quoted in a diagnostic or the notice."""
    sources = [b.get("status", "") for b in blocks] + [b.get("diagnostic-code", "") for b in blocks]
    for text in [*sources, head]:
        found = _STATUS.search(text)
        if found:
            return found.group(1)
    return None


def _diagnostic(blocks: list[dict[str, str]], head: str, report: BounceReport) -> str:
    """A short reason for the sender: Diagnostic-Code, else the notice, else the status's meaning."""
    for block in blocks:
        code = block.get("diagnostic-code", "")
        if code:
            return _clip(_tidy_diagnostic(code.partition(";")[2] if ";" in code else code))
    text = _notice_reason(head)
    if text:
        return _clip(text)
    return _clip(_status_text(report))


def _tidy_diagnostic(text: str) -> str:
    # Multi-line SMTP replies repeat "550-5.1.1" on every line; keep only the first.
    text = " ".join(text.split())
    return re.sub(r"(?<=\S) [45]\d\d[- ][245]\.\d{1,3}\.\d{1,3}(?= )", "", text)


def _notice_reason(head: str) -> str:
    """The paragraph quoting the server's reply, else the notice's first meaningful lines."""
    paragraphs = []
    for chunk in re.split(r"\n[ \t]*\n", head.replace("\r\n", "\n")):
        lines = [ln.strip() for ln in chunk.splitlines()]
        lines = [ln for ln in lines if re.search(r"\w", ln) and not _BOILERPLATE.search(ln)]
        if lines:
            paragraphs.append(" ".join(" ".join(lines).split()))
    for paragraph in paragraphs:
        if _STATUS.search(paragraph) or _SMTP_CODE.search(paragraph):
            return paragraph
    return " ".join(paragraphs)


def _status_text(report: BounceReport) -> str:
    if report.status:
        detail = report.status.partition(".")[2]
        meaning = _STATUS_TEXT.get(detail, "")
        return f"{meaning} ({report.status})" if meaning else f"Status {report.status}"
    return "Delivery delayed" if report.is_delay else "Delivery failed"


def _clip(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= DIAGNOSTIC_LENGTH:
        return text
    return text[: DIAGNOSTIC_LENGTH - 1].rsplit(" ", 1)[0] + "…"
