"""Build RFC 5322 messages with the stdlib email package."""

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.header import decode_header, make_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid


@dataclass
class OutgoingFile:
    filename: str
    content_type: str
    data: bytes


@dataclass
class Draft:
    """What a message says, before it becomes bytes."""

    from_name: str
    from_address: str
    to: list[tuple[str, str]]
    subject: str
    text: str
    html: str | None = None
    cc: list[tuple[str, str]] = field(default_factory=list)
    reply_to: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    attachments: list[OutgoingFile] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[bqBQ]\?[^?\s]*\?=")


def header_text(text: str) -> str:
    """Text safe for one header: no controls, and no encoded words.

    The stdlib decodes an encoded word it is given ("=?utf-8?q?=0D=0ABcc:...?=") and writes
    the decoded CR/LF into the message: a header injection. So we decode first, strip
    controls, and break any encoded-word syntax that is left.
    """
    text = text or ""
    for _ in range(3):
        if not _ENCODED_WORD.search(text):
            break
        try:
            text = str(make_header(decode_header(text)))
        except Exception:  # undecodable: keep the literal text, made harmless below
            break
        text = _CONTROLS.sub(" ", text)
    text = " ".join(_CONTROLS.sub(" ", text).split())
    return text.replace("=?", "= ?")


def _address(name: str, addr: str) -> Address:
    local, _, domain = addr.partition("@")
    return Address(display_name=header_text(name), username=local, domain=domain)


def new_message_id(domain: str) -> str:
    return make_msgid(domain=domain)


def build(draft: Draft, message_id: str, date: datetime) -> EmailMessage:
    """The EmailMessage for `draft`; the header registry refuses CR/LF in any header value."""
    msg = EmailMessage()
    msg["From"] = _address(draft.from_name, draft.from_address)
    msg["To"] = [_address(n, a) for n, a in draft.to]
    if draft.cc:
        msg["Cc"] = [_address(n, a) for n, a in draft.cc]
    if draft.reply_to:
        msg["Reply-To"] = draft.reply_to
    msg["Subject"] = header_text(draft.subject)
    msg["Date"] = format_datetime(date)
    msg["Message-ID"] = message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = draft.references
    for name, value in draft.headers.items():
        msg[name] = value
    msg.set_content(draft.text)
    if draft.html:
        msg.add_alternative(draft.html, subtype="html")
    for f in draft.attachments:
        maintype, _, subtype = f.content_type.partition("/")
        msg.add_attachment(f.data, maintype=maintype, subtype=subtype or "octet-stream", filename=f.filename)
    return msg
