"""Recognise delivery failure reports (DSNs and plain-text notices) and pull out what failed.

Pure functions over a parsed `EmailMessage`; nothing here raises, whatever the input.
Bounce detection runs before auto-reply detection, so this module must not use autoreply.py.

What counts as a report, from the standards and from what real servers send:
- a delivery-status report (RFC 3464: multipart/report; report-type=delivery-status, or a
  message/delivery-status part), also one attached inside another message (a gateway's);
- a notice from a mail daemon (a daemon name in From or Return-Path, or a null sender, RFC 5321
  4.5.5) whose subject (in any language of `subjects.py`, decoded whatever its charset) or text
  says a delivery failed; Exim's X-Failed-Recipients and `Auto-Submitted: auto-generated
  (failure)` say so whoever sends them;
- from anyone, a copy of the original message (message/rfc822, text/rfc822-headers) attached to
  a notice that names a failure and quotes an SMTP reply or enhanced status code (RFC 3463).
Mailing-list posts (List-Id and the other List-* headers, Precedence: list) are reports only
when a daemon sends them. Precedence: bulk or junk alone is no list: servers put it on their
own notices.
The DSN is read leniently: blank lines inside a recipient's block, continuation lines that are
not indented, a multipart boundary that does not match the header.
"""

import base64
import quopri
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from webapp.mail.inbound.headers import (
    has_header,
    header_value,
    kept,
    part_text,
    plain_mailboxes,
    subject_texts,
)
from webapp.mail.inbound.subjects import (
    BOUNCE_SUBJECT,
    CHALLENGE_TEXT,
    DELAY_SUBJECT,
    DELAY_TEXT,
    FAILURE_TEXT,
)
from webapp.mail.phrases import N_, Phrase

DIAGNOSTIC_LENGTH = 300
# A notice says what failed in its first lines; a long text is a person's (or a quoted original).
_NOTICE_CHARS = 20_000
# Reports attached inside reports: deeper than this is not a real server's doing.
_MAX_NESTING = 3

_TRANSFER_ENCODINGS = {"base64", "quoted-printable"}
_DSN_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_ORIGINAL_TYPES = {
    "message/rfc822",
    "message/global",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global-headers",
}
_ATTACHED_MESSAGE_TYPES = {"message/rfc822", "message/global"}
# Reports about something other than delivery: spam complaints and read receipts.
_OTHER_REPORTS = {"feedback-report", "disposition-notification"}
# A DSN may also tell of successful deliveries (NOTIFY=SUCCESS); those are not failures.
_SUCCESS_ACTIONS = {"delivered", "relayed", "expanded"}

# Local parts only mail software sends from (RFC 5321 4.5.5 and what servers use); "+tag" allowed.
_DAEMON_LOCAL = re.compile(
    r"(mailer[-_.]?daemon|mail[-_.]?daemon|post[-_.]?master|m[-_]?daemon|mail[-_.]?delivery"
    r"(?:[-_.]?(?:system|subsystem|service))?|microsoftexchange[0-9a-f]{32})(?:\+.*)?",
    re.I,
)
_DAEMON_NAME = re.compile(r"mail(er)?[ -]?daemon|postmaster|mail delivery (subsystem|system|service)", re.I)
# Senders that are mail software too, but whose names people also use ("mail@", "admin@"):
# only together with a report's subject and its evidence.
_SOFTWARE_LOCAL = re.compile(
    r"(mailer|mail|mail[-_.]?router|mail[-_.]?admin|smtp|smtpd|mta|exim|qmail|sendmail|mailscanner"
    r"|mailsweeper|amavisd?|virus[-_.]?\w*|anti[-_.]?virus|av|scanmail|content[-_.]?filter"
    r"|administrator|sysadmin|root|system|notes|domino|groupwise|gwia|mdaemon"
    r"|no[-_.]?reply|do[-_.]?not[-_.]?reply|notifications?|alerts?|gateway|relay|bounces?)(?:\+.*)?",
    re.I,
)
# A word of a longer local part that only mail software uses ("E500_SMTP_Mail_Service"); not
# "mailer", a surname too.
_SOFTWARE_WORD = re.compile(r"(?:^|[-_.])(?:smtp|mta|mail[-_.]?service)(?:[-_.]|$)", re.I)
_SOFTWARE_NAME = re.compile(
    r"mail router|system administrator|mail administrator|microsoft (outlook|exchange)|content[- ]filter"
    r"|e-?mail (gateway|security)|anti-?virus|virus|mailscanner|mail (server|system)|lotus|domino|groupwise",
    re.I,
)
_FORWARD_PREFIX = re.compile(r"^\s*(fwd?|tr|wg|rv|i|enc|doorst|vs|vl|pd)\s*:", re.I)
# An SMTP reply or enhanced status code as a report quotes it (RFC 5321 4.2, RFC 3463).
_CODE_IN_TEXT = re.compile(
    r"(?<![\d.])[45]\.\d{1,3}\.\d{1,3}(?![\d.])|\bsmtp (?:error |reply )?code:? ?[45]\d\d\b"
    r"|\b[45][0-5]\d[- ](?:#?\d\.\d\.\d|(?:\S+ ){0,4}?(?:user|mailbox|recipient|address|relay|denied|rejected"
    r"|unknown|unavailable|quota|blocked|spam|not found|does not exist|no such))",
    re.I,
)
# An MDN's disposition (RFC 8098 3.2.6): its action and sending modes, then its type.
_MDN_DISPOSITION = re.compile(r"^disposition[ \t]*:[ \t]*([^;\n]*);[ \t]*([a-z-]+)", re.I | re.M)
_MDN_ORIGINAL = re.compile(r"^original-message-id[ \t]*:[ \t]*(<[^<>\s]+>)", re.I | re.M)
# A notice listing the recipients it could not deliver to, as gateways word it.
_NAMES_RECIPIENTS = re.compile(
    r"(to|for) (the following|these|this) (recipients?|addresses|address|users?)|failed recipients?"
    r"|following (recipients?|addresses)(\(s\))? (could not|cannot) be reached",
    re.I,
)
_HOSTNAME = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+")
# The recipients' lines of a quoted original message.
_QUOTED_TO = re.compile(r"^[ \t>]*+(?:to|cc):[ \t]*([^\n]*)", re.I | re.M)
# A transcript's lines naming the recipient, and the lines naming the sender.
_RCPT_TO_LINE = re.compile(r"^[ \t>]*+rcpt to:([^\n]*)", re.I | re.M)
_SENDER_LINE = re.compile(r"^[ \t>]*+(?:mail from|from|sender|return-path|reply-to):[^\n]*", re.I | re.M)
# What precedes an address in Exchange's X.400 form of it ("dda:SMTP=alice@example.com").
_X400_PREFIX = re.compile(r"^(?:smtp|rfc822)[=:]", re.I)
# The sentence before a list of the recipients a notice could not deliver to, and the list.
_LISTED_AFTER = re.compile(
    r"(?:recipients?|addresses)[ \t]+(?:returned|had)[ \t]+(?:(?:permanent|temporary)[ \t]+)?errors?"
    r"[ \t]*:?([^\0]{0,300})|"
    r"(?:did not reach|could not be delivered to|cannot be reached|could not be reached|not delivered to"
    r"|delivery (?:has )?failed to)[ \t]+(?:the following|these|this|some or all of the)[ \t]+"
    r"(?:intended[ \t]+)?(?:recipients?|addresses|address|users?)(?:\(s\))?(?:[ \t]+or groups)?[ \t]*:?"
    r"([^\0]{0,300})",
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
_REPORTING_HOST = re.compile(
    r"(?:mail system at host|qmail-send program at|this is the mail(?:er)? (?:daemon|system) at)"
    r" ([\w.-]+\.[a-z]{2,})",
    re.I,
)
# DSN fields (RFC 3464 2.2, 2.3): a line that starts with another name continues the one before.
_MESSAGE_FIELDS = {
    "reporting-mta",
    "dsn-gateway",
    "received-from-mta",
    "arrival-date",
    "original-envelope-id",
}
_RECIPIENT_FIELDS = {
    "original-recipient",
    "final-recipient",
    "action",
    "status",
    "remote-mta",
    "diagnostic-code",
    "last-attempt-date",
    "final-log-id",
    "will-retry-until",
}
_FIELD_LINE = re.compile(r"([A-Za-z][A-Za-z0-9-]{0,60})[ \t]*:[ \t]*(.*)")
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
class FailedRecipient:
    """One recipient a report says was not delivered (or is delayed)."""

    address: str  # lower-cased
    status: str | None  # enhanced status code, e.g. "5.1.1"
    kind: str  # "hard" (5.x.x: will not work), "soft" (4.x.x, given up for now) or "delay" (still trying)
    diagnostic: str  # the server's words, one line, at most DIAGNOSTIC_LENGTH chars
    reporting_mta: str  # the server that wrote the report


@dataclass
class BounceReport:
    is_delay: bool  # a delivery delay (Action: delayed, or a "will retry" notice), not a failure
    recipients: list[str] = field(default_factory=list)  # failed addresses, lower-cased, no duplicates
    original_message_id: str | None = None  # "<...>" Message-ID of the message that bounced
    status: str | None = None  # enhanced status code, e.g. "5.1.1" or "4.4.7"
    diagnostic: str = ""  # a short reason for the sender, one line, at most DIAGNOSTIC_LENGTH chars
    reporting_mta: str = ""
    failures: list[FailedRecipient] = field(default_factory=list)  # one per recipient

    @property
    def is_hard(self) -> bool:
        """A permanent failure: the address will not work (5.x.x)."""
        return not self.is_delay and any(f.kind == "hard" for f in self.failures)


def parse_bounce(msg: EmailMessage, _depth: int = 0) -> BounceReport | None:
    """The delivery failure `msg` reports, or None when it is not a bounce."""
    kind = _safely(_bounce_kind, msg, default=None)
    # A gateway's notice around the real report; or a gateway that attached the report whole
    # (a disclaimer added) and kept its report-type on a multipart/mixed without a DSN of its own.
    own_dsn = kind == "dsn" and _safely(_has_dsn_part, msg, default=True)
    if not own_dsn and _depth < _MAX_NESTING:
        nested = _safely(_nested_report, msg, default=None)
        if nested is not None:
            return parse_bounce(nested, _depth + 1)
    if kind is None:
        return None
    fields, blocks = _safely(_dsn_records, msg, default=({}, []))
    actions = [b.get("action", "").lower() for b in blocks]
    if actions and all(a in _SUCCESS_ACTIONS for a in actions):
        return None
    failing = [b for b, a in zip(blocks, actions, strict=True) if a not in _SUCCESS_ACTIONS]
    if _asks_to_confirm(failing):
        return None  # a challenge-response system's, in a report's clothes: an automatic reply
    notice = _safely(_notice_text, msg, default="")
    head = _safely(_notice_head, notice, default="")
    report = BounceReport(is_delay=_safely(_is_delay, msg, actions, head, default=False))
    report.recipients = _safely(_recipients, msg, failing, head, notice, default=[])
    report.original_message_id = _safely(_original_message_id, msg, notice, default=None)
    report.status = _safely(_status, failing, head, default=None)
    report.diagnostic = _safely(_diagnostic, failing, head, report, default="")
    report.reporting_mta = _safely(_reporting_mta, msg, fields, head, default="")
    report.failures = _safely(_failures, report, failing, head, default=[])
    return report


def challenge_in_report(msg: EmailMessage) -> bool:
    """Whether `msg` is a delivery-status report whose every failure asks the sender to confirm
    first (Boxbe's "Sender not pre-approved", a server's "requires confirmation"): what a
    challenge-response system sends, the recipient's address working all along."""
    if _safely(_bounce_kind, msg, default=None) != "dsn":
        return False
    _, blocks = _safely(_dsn_records, msg, default=({}, []))
    return _asks_to_confirm([b for b in blocks if b.get("action", "").lower() not in _SUCCESS_ACTIONS])


def _asks_to_confirm(failing: list[dict[str, str]]) -> bool:
    # Some write Action before Final-Recipient: a block may hold no diagnostic of its own.
    said = [b["diagnostic-code"] for b in failing if b.get("diagnostic-code")]
    return bool(said) and all(CHALLENGE_TEXT.search(d) for d in said)


def _safely(fn, *args, default):
    # One unreadable field must not cost the others: each degrades to its default alone.
    try:
        return fn(*args)
    except Exception:
        return default


def _bounce_kind(msg) -> str | None:
    """'dsn' for a delivery-status report, 'notice' for a plain-text one, else None.

    Asked by parse_bounce and again by the auto-reply rule (challenge_in_report), which runs on
    most mail: worked out once a message.
    """
    return kept(msg, "bounce_kind", _work_out_bounce_kind)


def _work_out_bounce_kind(msg) -> str | None:
    """_bounce_kind, worked out."""
    ctype = msg.get_content_type()
    report_type = str(msg.get_param("report-type", "") or "").lower()
    if ctype in _DSN_TYPES or report_type in {"delivery-status", "global-delivery-status"}:
        return "dsn"
    if report_type == "disposition-notification" and _rejected_by_sieve(msg):
        return "notice"
    if report_type in _OTHER_REPORTS:
        return None
    if any(p.get_content_type() in _DSN_TYPES for p in _parts(msg)):
        return "dsn"
    return "notice" if _looks_like_notice(msg) else None


def _rejected_by_sieve(msg) -> bool:
    """A mailbox's filter refused the message: RFC 5429's reject, sent as an MDN whose
    disposition is `automatic-action/MDN-sent-automatically; deleted` (Dovecot, Cyrus).

    A person's mail program that reports a message deleted unread says `manual-action`.
    """
    for part in _parts(msg):
        if part.get_content_type() == "message/disposition-notification":
            found = _MDN_DISPOSITION.search(_dsn_text(part))
            if found and "automatic-action" in found[1].lower() and found[2].lower() == "deleted":
                return True
    return False


def _looks_like_notice(msg) -> bool:
    """A notice from mail software about a failed or delayed delivery (see the module's docstring).

    The cheap signs first: most mail (no daemon, no attached original) is decided on its
    headers and MIME structure alone, without reading its text.
    """
    submitted = header_value(msg, "Auto-Submitted").lower()
    if header_value(msg, "X-Failed-Recipients") or "failure" in submitted:
        return True
    daemon = daemon_sender(msg)
    if daemon != "daemon" and _is_list_mail(msg):  # a post about bounces on a list is a person's
        return False
    original = _has_original(msg)
    if daemon is None and not original:
        return False
    subject = any(BOUNCE_SUBJECT.search(s) for s in subject_texts(msg))
    if daemon in ("daemon", "null") and subject:
        return True
    head = _notice_head(_notice_text(msg))[:_NOTICE_CHARS]
    phrase = bool(FAILURE_TEXT.search(head))
    code = bool(_CODE_IN_TEXT.search(head))
    automatic = bool(submitted) and not submitted.startswith("no")
    if daemon == "daemon":
        return phrase or (original and (code or automatic))
    if daemon == "null":  # an out-of-office may have a null sender too: more than a phrase
        return (phrase and (code or original)) or (original and code)
    if daemon == "software" and subject and (code or original or (phrase and _NAMES_RECIPIENTS.search(head))):
        return True
    if original and phrase and code:
        return True
    weak = subject or automatic or daemon == "software"
    return original and (phrase or code) and weak


def daemon_sender(msg) -> str | None:
    """Who sent it: 'daemon' (mail software, by its name or an empty From), 'null' (a null
    Return-Path and nothing else), 'software' (likely mail software), else None.

    A null Return-Path alone is weaker than a daemon's name: RFC 3834 asks automatic replies to
    use one too, so an out-of-office can carry it.
    """
    # Asked three to five times a message by the bounce and auto-reply rules: worked out once.
    return kept(msg, "daemon_sender", _daemon_sender)


def _daemon_sender(msg) -> str | None:
    """daemon_sender, worked out."""
    plain = plain_mailboxes(msg, "From")  # read as the policy would, without its parser
    if plain is None:
        name, address = parseaddr(header_value(msg, "From"))
    else:
        name, address = parseaddr(plain[0] if plain else "")
    local = _local_part(address)
    return_path = header_value(msg, "Return-Path").strip()
    rp_local = parseaddr(return_path)[1].rpartition("@")[0]
    if not address.strip("<> "):
        return "daemon"
    if _DAEMON_LOCAL.fullmatch(local) or _DAEMON_LOCAL.fullmatch(rp_local) or _DAEMON_NAME.search(name):
        return "daemon"
    # Servers send bounces with an empty envelope sender, so they cannot bounce back.
    if return_path.replace(" ", "") in {"<>", "<<>>"}:
        return "null"
    # A quoted local part that reads as a name (`"System Administrator"@...`) is read as one.
    named = name or (local if " " in local else "")
    if _SOFTWARE_LOCAL.fullmatch(local) or _SOFTWARE_NAME.search(named):
        return "software"
    if _SOFTWARE_WORD.search(local):
        return "software"
    return None


def _local_part(address: str) -> str:
    """The local part as a daemon check reads it: unquoted, before the first unescaped "@".

    Real reports come from `<"System Administrator"@example.com>` and even from
    `<Postmaster\\@example.com@relay.example>`, a local part no parser agrees on.
    """
    if "@" not in address:
        return address
    return re.split(r"\\?@", address, maxsplit=1)[0].strip('"\\ ')


def _is_list_mail(msg) -> bool:
    """A mailing list's post: its List-* headers (RFC 2369, RFC 2919), or Precedence: list.

    Precedence: bulk or junk alone is no list: servers and gateways put it on their own
    notices (so that no auto-responder answers them), and a list that sets it sets List-Id too.
    """
    if header_value(msg, "Precedence").lower() == "list":
        return True
    return any(has_header(msg, name) for name in ("List-Id", "List-Post", "List-Unsubscribe"))


def _has_dsn_part(msg) -> bool:
    """Whether the message itself (not a message attached to it) has a delivery-status part."""
    if msg.get_content_type() in _DSN_TYPES or not msg.is_multipart():
        return True  # a bare report, or one whose boundary did not match: read as it is
    return any(p.get_content_type() in _DSN_TYPES for p in _parts(msg))


def _has_original(msg) -> bool:
    return any(p.get_content_type() in _ORIGINAL_TYPES for p in _parts(msg) if p is not msg)


def _nested_report(msg) -> EmailMessage | None:
    """A delivery-status report attached to `msg` by a gateway or a forwarding daemon."""
    subject = subject_texts(msg)[0]
    daemon = daemon_sender(msg)
    if daemon is None and (_FORWARD_PREFIX.match(subject) or _is_list_mail(msg)):
        return None  # a person forwarding a report to a colleague: theirs to read
    signals = daemon or header_value(msg, "Auto-Submitted") or BOUNCE_SUBJECT.search(subject)
    if not signals:
        return None
    for part in _parts(msg):
        if part.get_content_type() in _ATTACHED_MESSAGE_TYPES and part.is_multipart():
            inner = part.get_payload(0)
            if _safely(_bounce_kind, inner, default=None) == "dsn":
                return inner
    return None


def _parts(msg):
    """`msg` and its MIME descendants, without entering attached messages."""
    yield msg
    if msg.is_multipart() and msg.get_content_maintype() == "multipart":
        for child in msg.get_payload():
            yield from _parts(child)


def _dsn_records(msg) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The per-message fields and per-recipient blocks of every delivery-status part.

    A report whose multipart boundary does not match its header has no parts: its whole body
    is read instead.
    """
    texts = [_dsn_text(part) for part in _parts(msg) if part.get_content_type() in _DSN_TYPES]
    if not texts and msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), str):
        texts = [msg.get_payload()]
    fields: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    for text in texts:
        part_fields, part_blocks = _records(text)
        fields = part_fields | fields
        blocks += part_blocks
    return fields, blocks


def _dsn_text(part) -> str:
    """The text of a delivery-status part, whether stdlib split it into blocks or not."""
    payload = part.get_payload()
    encoding = header_value(part, "Content-Transfer-Encoding").lower()
    if isinstance(payload, list):
        payload = "\n\n".join(_safely(_block_source, sub, default="") for sub in payload)
    return _decode(str(payload), encoding)


def _records(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Per-message fields and per-recipient blocks, read line by line.

    Blank lines are not trusted to separate blocks (servers put them inside one): a block starts
    at a recipient field that the current block already has. A line that is not a DSN field
    continues the field above it, indented or not, unless a blank line came between.
    """
    message: dict[str, str] = {}
    blocks: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    last: tuple[dict[str, str], str] | None = None
    for line in text.splitlines()[:2000]:  # a real report has a few lines per recipient
        if not line.strip():
            last = None
            continue
        found = None if line[:1] in (" ", "\t") else _FIELD_LINE.fullmatch(line.strip())
        name = found.group(1).lower() if found else ""
        if found and (name in _MESSAGE_FIELDS or name in _RECIPIENT_FIELDS or name.startswith("x-")):
            value = found.group(2).strip()
            if name in _MESSAGE_FIELDS or (name.startswith("x-") and current is None):
                target = message
            else:
                # A recipient's fields come before its Action and Status, in either order.
                starts = name in ("original-recipient", "final-recipient") and (
                    "action" in (current or {}) or "status" in (current or {})
                )
                if current is None or name in current or starts:
                    current = {}
                    blocks.append(current)
                target = current
            target.setdefault(name, value)
            last = (target, name) if target.get(name) == value else None
        elif found and line[:1] not in (" ", "\t") and " " not in name:
            last = None  # another header (a quoted original's): not ours to continue
        elif last is not None:
            target, name = last
            target[name] = f"{target[name]} {line.strip()}"
    return message, [b for b in blocks if _is_recipient_block(b)]


def _is_recipient_block(block: dict[str, str]) -> bool:
    return any(k in block for k in ("final-recipient", "original-recipient", "action", "status"))


def _block_source(block) -> str:
    lines = [f"{k}: {v}" for k, v in block.raw_items()]
    body = block.get_payload()
    # Stdlib takes a line that is no header (an unindented continuation) for the block's body.
    return "\n".join(lines) + ("\n" + body if isinstance(body, str) else "")


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


def _notice_text(msg) -> str:
    """The human-readable notice: the first text part outside attached messages (HTML as text)."""
    html, unsplit = None, ""
    for part in _parts(msg):
        ctype = part.get_content_type()
        if ctype == "text/plain":
            return _text_of(part)
        if ctype == "text/html" and html is None:
            html = part
        payload = part.get_payload() if part.get_content_maintype() == "multipart" else None
        if isinstance(payload, str) and not unsplit:
            # A boundary that matched nothing (Apache James folds Content-Type's boundary
            # onto an unindented line): the part's whole body, as it is.
            unsplit = payload
    if html is not None:
        return re.sub(r"<[^>]*>", " ", re.sub(r"(?is)<(style|script|head)\b.*?</\1>", " ", _text_of(html)))
    return unsplit


def _text_of(part) -> str:
    return part_text(part)


def _notice_head(notice: str) -> str:
    """The notice up to where it quotes the original message.

    A summary of the message that failed ("To:", "Subject:", "Date:" lines: Exchange, some
    gateways) reads as quoted headers: when the head names no address, the sentence listing
    the failed recipients after it, and the list, belong to it too.
    """
    match = _QUOTE_START.search(notice)
    if match is None:
        return notice
    head = notice[: match.start()]
    if not _ADDRESS.search(head):
        listed = _LISTED_AFTER.search(notice, match.start())
        if listed:
            head += "\n" + listed[0]
    return head


def _is_delay(msg, actions: list[str], head: str) -> bool:
    # The DSN's Action field is authoritative: "failed" with a 4.x.x status is a final give-up.
    if "failed" in actions:
        return False
    if "delayed" in actions:
        return True
    if any(DELAY_SUBJECT.search(t) for t in subject_texts(msg)):
        return True
    return bool(DELAY_TEXT.search(head))


def _recipients(msg, blocks: list[dict[str, str]], head: str, notice: str) -> list[str]:
    """Failed addresses from the DSN, else from X-Failed-Recipients and the notice."""
    found = []
    for block in blocks:
        # Original-Recipient is the address as we sent it, before any forwarding.
        for name in ("original-recipient", "final-recipient"):
            found.append(_dsn_address(block.get(name, "")))
    if not any(found):
        found += [a for _, a in getaddresses([header_value(msg, "X-Failed-Recipients")])]
        found += _notice_addresses(msg, head)
    if not _unique_addresses(found):
        # A report that names no address (Sendmail's "Deferred: Connection timed out" for a
        # whole domain): the message that failed went to these.
        found += _safely(_original_recipients, msg, notice, default=[])
    return _unique_addresses(found)


def _original_recipients(msg, notice: str) -> list[str]:
    """To and Cc of the original message: its attached copy, else its headers quoted in the notice."""
    for part in _parts(msg):
        if part.get_content_type() in _ATTACHED_MESSAGE_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                values = [header_value(payload[0], name) for name in ("To", "Cc")]
                return [a for _, a in getaddresses(values)]
    quoted = _QUOTE_START.search(notice)
    if quoted is None:
        return []
    lines = _QUOTED_TO.findall(notice[quoted.start() :])
    return [a for _, a in getaddresses(lines[:2])]


def _dsn_address(value: str) -> str:
    """The address of an `rfc822; <user@example.com>` field."""
    address = value.partition(";")[2] if ";" in value else value
    return address.strip().strip("<>").strip()


def _notice_addresses(msg, head: str) -> list[str]:
    # The notice also names the reporting server and the original sender: leave those out.
    known = {a.lower() for _, a in getaddresses([header_value(msg, h) for h in ("From", "To", "Sender")])}
    # A transcript names the recipient (RCPT TO) beside the sender (MAIL FROM, From): only the
    # recipient failed. Otherwise a line about the sender names no recipient.
    recipients = "\n".join(_RCPT_TO_LINE.findall(head)) or _SENDER_LINE.sub("", head)
    # "'alice@example.com'" (Exchange), "dda:SMTP=alice@example.com" (Exchange's X.400 form)
    found = [_X400_PREFIX.sub("", a.strip("'")) for a in _ADDRESS.findall(recipients)]
    return [a for a in found if a.lower() not in known]


def _unique_addresses(addresses: list[str]) -> list[str]:
    lowered = (a.lower() for a in addresses)
    kept = (a for a in lowered if "@" in a and not _DAEMON_LOCAL.fullmatch(a.partition("@")[0]))
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
    for part in _parts(msg):  # a mailbox filter's refusal (an MDN) names it in a field of its own
        if part.get_content_type() == "message/disposition-notification":
            named = _MDN_ORIGINAL.search(_dsn_text(part))
            if named:
                return named.group(1)
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


def _reporting_mta(msg, fields: dict[str, str], head: str) -> str:
    """The server that wrote the report: Reporting-MTA, the notice's own words, else From's domain."""
    value = fields.get("reporting-mta", "")
    if value:
        return _clip(value.partition(";")[2].strip() if ";" in value else value)[:255]
    found = _REPORTING_HOST.search(head)
    if found:
        return found.group(1).lower()
    address = parseaddr(header_value(msg, "From"))[1]
    if "@" not in address:  # `<Postmaster\\@relay.example@mx.relay.example>`, unparsed: its last domain
        raw = next((str(v) for k, v in msg.raw_items() if k.lower() == "from"), "")
        address = " ".join(raw.split()).strip("<> ")
    domain = address.rpartition("@")[2].strip("<> ").lower()
    if "@" in address and "." in domain:
        return domain[:255]
    # An empty From: the host that wrote the notice named itself in its Message-ID.
    own_id = header_value(msg, "Message-ID").strip().strip("<>")
    host = own_id.rpartition("@")[2].lower()
    return host[:255] if "@" in own_id and _HOSTNAME.fullmatch(host) else ""


def _failures(report: BounceReport, blocks: list[dict[str, str]], head: str) -> list[FailedRecipient]:
    """One entry per failed recipient, with its own status and words where the report gives them."""
    found: dict[str, FailedRecipient] = {}
    for block in blocks:
        original, final = block.get("original-recipient", ""), block.get("final-recipient", "")
        address = (_dsn_address(original) or _dsn_address(final)).lower()
        if "@" not in address or address in found:
            continue
        status = _status([block], "")
        code = block.get("diagnostic-code", "")
        diagnostic = _clip(_tidy_diagnostic(code.partition(";")[2] if ";" in code else code)) if code else ""
        action = block.get("action", "").lower()
        found[address] = FailedRecipient(
            address=address,
            status=status or report.status,
            kind=_kind(action, status or report.status, diagnostic, report.is_delay),
            diagnostic=diagnostic or report.diagnostic,
            reporting_mta=report.reporting_mta,
        )
    for address in report.recipients:
        if address in found:
            continue
        status, diagnostic = _said_about(address, head)
        status = status or report.status
        found[address] = FailedRecipient(
            address=address,
            status=status,
            kind=_kind("", status, diagnostic or report.diagnostic, report.is_delay),
            diagnostic=diagnostic or report.diagnostic,
            reporting_mta=report.reporting_mta,
        )
    return list(found.values())


def _said_about(address: str, head: str) -> tuple[str | None, str]:
    """The status and words of the notice's paragraph about `address` (Postfix, Exim, qmail)."""
    for chunk in re.split(r"\n[ \t]*\n", head.replace("\r\n", "\n")):
        if address in chunk.lower() and (_STATUS.search(chunk) or _SMTP_CODE.search(chunk)):
            found = _STATUS.search(chunk)
            return (found.group(1) if found else None), _clip(chunk)
    return None, ""


def _kind(action: str, status: str | None, diagnostic: str, is_delay: bool) -> str:
    """'hard', 'soft' or 'delay': what the report means for the address."""
    if action == "delayed" or (is_delay and action != "failed"):
        return "delay"
    if status:
        return "hard" if status.startswith("5") else "soft"
    code = re.match(r"\s*([45])\d\d\b", diagnostic)
    return "soft" if code and code.group(1) == "4" else "hard"


# What went wrong, in plain words, from a status code and the server's text (RFC 3463 codes
# first, then the words servers use when they give no code, or a vague one).
_PROBLEMS = [  # (kind, the words servers use, the status codes that say it)
    ("virus", r"virus|infected|malware", None),
    ("spam", r"spam|unsolicited|blacklist|blocklist|block ?list|dnsbl|reputation|junk", None),
    ("full", r"quota|mailbox (is )?full|insufficient (system )?storage", r"[245]\.2\.2"),
    (
        "domain",
        r"domain (name )?not found|host (or domain name )?not found|unknown host|no mx|dns error",
        r"[245]\.1\.2",
    ),
    (
        "address",
        r"user unknown|unknown (user|recipient)|no such (user|mailbox|recipient|address)|does ?n[o']t exist"
        r"|not found|not listed|invalid (user|recipient|address|mailbox)|not a valid (user|recipient|address)"
        r"|address rejected|mailbox unavailable|recipient name is not recognized",
        r"[245]\.1\.(1|10|0|6)",
    ),
    ("disabled", r"disabled|inactive|deactivated|suspended", r"[245]\.2\.1"),
    ("size", r"too (large|big)|size limit|exceeds .{0,20}size", r"[245]\.(3\.4|2\.3)"),
    ("policy", r"denied|refused|rejected|not allowed|policy", r"[245]\.7\.\d+"),
    ("expired", r"expired|timed? ?out|giving up|gave up", r"[245]\.4\.7"),
]
PROBLEM_WORDS = {
    "delay": N_("Delivery delayed, still trying"),
    "virus": N_("Rejected: a virus was found"),
    "spam": N_("Rejected as spam"),
    "full": N_("Mailbox full"),
    "domain": N_("Domain not found"),
    "address": N_("Address not found"),
    "disabled": N_("Mailbox disabled"),
    "size": N_("Message too large"),
    "policy": N_("Refused by the receiving server"),
    "expired": N_("Gave up after retrying"),
    "other": N_("Not delivered"),
}


def problem_kind(text: str | None, *, delayed: bool = False) -> str:
    """What a delivery failure (the server's text, with its status code) means: a PROBLEM_WORDS key."""
    if delayed:
        return "delay"
    text = text or ""
    status = _STATUS.search(text)
    # Words that name a cause (a virus, spam) say more than the code, often a generic 5.7.x.
    for kind, words, code in _PROBLEMS:
        if code is None and re.search(words, text, re.I):
            return kind
    for kind, _, code in _PROBLEMS:
        if code and status and re.fullmatch(code, status.group(1)):
            return kind
    for kind, words, _ in _PROBLEMS:
        if re.search(words, text, re.I):
            return kind
    return "other"


def plain_problem(text: str | None, *, delayed: bool = False) -> Phrase:
    """What went wrong, in plain words for the sender ("Address not found", "Mailbox full")."""
    return PROBLEM_WORDS[problem_kind(text, delayed=delayed)]
