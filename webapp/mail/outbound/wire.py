"""Write a plain outgoing message as SMTP bytes directly, for the common case.

The stdlib (build.build, then as_bytes) parses every header it is given back through its
header registry, creating a class per header; that took longer than sending the message.
What compose makes is simple: a text body, ASCII addresses, message ids we or a parser
produced, attachments with plain names. `to_bytes` writes exactly that, and returns None
for anything else (an internationalised address, an unusual file name, an HTML part, an
odd token), which the stdlib then builds. Either way the bytes parse to the same message:
tests/test_wire.py compares the two on many drafts.

Nothing reaches a header unchecked: every value is matched against a strict pattern or
encoded (RFC 2047), and a CR or LF anywhere sends the draft to the stdlib path, which
refuses it.
"""

import base64
import quopri
import re
import secrets
from email.header import Header
from email.utils import format_datetime

from webapp.mail.outbound.build import Draft

CRLF = "\r\n"
MAX_LINE = 78  # RFC 5322's recommended limit; the hard limit is 998
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9.-]+\Z")
_MSG_ID = re.compile(r"<[!-;=?-~]{1,900}>\Z")  # printable ASCII but < > and space, in brackets
_ATOMS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~ -]*\Z")  # a phrase that needs no quoting
_PRINTABLE = re.compile(r"[ -~]*\Z")
_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]{1,64}/[A-Za-z0-9!#$&^_.+-]{1,64}\Z")
_FILENAME = re.compile(r"[A-Za-z0-9 ._()+,-]{1,150}\Z")
_HEADER_START = re.compile(r"[A-Za-z-]+: ")


class NotPlain(Exception):
    """The draft needs the stdlib builder."""


def to_bytes(draft: Draft, message_id: str, date) -> bytes | None:
    """The message as sent (CRLF line ends), or None when the stdlib must build it."""
    try:
        return _write(draft, message_id, date)
    except NotPlain:
        return None


def _write(draft: Draft, message_id: str, date) -> bytes:
    if draft.html or draft.headers or any(name for name, _ in draft.to + draft.cc):
        raise NotPlain
    lines = [_fold("From", [_mailbox(draft.from_name, draft.from_address)])]
    lines.append(_fold("To", [_address(a) for _, a in draft.to]))
    if draft.cc:
        lines.append(_fold("Cc", [_address(a) for _, a in draft.cc]))
    if draft.reply_to:
        lines.append(_fold("Reply-To", [_address(draft.reply_to)]))
    lines.append(_unstructured("Subject", draft.subject))
    lines.append(f"Date: {format_datetime(date)}")
    lines.append(f"Message-ID: {_msg_ids(message_id, one=True)}")
    if draft.in_reply_to:
        lines.append(f"In-Reply-To: {_msg_ids(draft.in_reply_to, one=True)}")
    if draft.references:
        lines.append(_fold("References", _msg_ids(draft.references).split(" "), sep=" "))
    lines.append("MIME-Version: 1.0")
    text_headers, text_body = _text_part(draft.text)
    if not draft.attachments:
        return _join(lines + text_headers, text_body)
    parts = [(text_headers, text_body)] + [_attachment(f) for f in draft.attachments]
    boundary = "===============" + secrets.token_hex(8) + "=="
    while any(boundary in body for _, body in parts):  # as unlikely as a hash collision; as stdlib does
        boundary = "===============" + secrets.token_hex(8) + "=="
    lines.append(f'Content-Type: multipart/mixed; boundary="{boundary}"')
    body = "".join(f"--{boundary}{CRLF}" + CRLF.join(h) + CRLF + CRLF + b + CRLF for h, b in parts)
    return _join(lines, body + f"--{boundary}--{CRLF}")


def _join(headers: list[str], body: str) -> bytes:
    # Each header is one line plus folded continuations, which start with a space: a value
    # that slipped a line break past the checks above can never start a header of its own.
    for header in headers:
        first, *rest = header.split(CRLF)
        if not _HEADER_START.match(first) or any(not line.startswith(" ") for line in rest):
            raise NotPlain
        if any("\r" in line or "\n" in line for line in [first, *rest]):
            raise NotPlain
    return (CRLF.join(headers) + CRLF + CRLF + body).encode("utf-8", "surrogateescape")


def _address(address: str) -> str:
    if not _ADDRESS.match(address or ""):
        raise NotPlain
    return address


def _mailbox(name: str, address: str) -> str:
    address = _address(address)
    if not name:
        return address
    if "=?" in name:
        raise NotPlain  # encoded-word syntax typed as text: header_text (stdlib path) defuses it
    if _ATOMS.match(name) and name.strip() == name:
        return f"{name} <{address}>"
    if _PRINTABLE.match(name):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{address}>'
    return f"{_encoded_words(name, 'From')} <{address}>"


def _encoded_words(text: str, header_name: str) -> str:
    """RFC 2047 words (whitespace between them may fold)."""
    if any(c in text for c in "\r\n"):
        raise NotPlain
    return Header(text, "utf-8", header_name=header_name).encode(linesep=CRLF, maxlinelen=MAX_LINE)


def _unstructured(name: str, value: str) -> str:
    if any(c in value for c in "\r\n"):
        raise NotPlain
    value = " ".join(value.split())  # as header_text leaves it (and the stdlib drops the ends)
    if "=?" in value:
        raise NotPlain  # encoded-word syntax typed as text: header_text (stdlib path) defuses it
    if not _PRINTABLE.match(value):
        return f"{name}: {_encoded_words(value, name)}"
    return _fold(name, value.split(" "), sep=" ")


def _msg_ids(value: str, one: bool = False) -> str:
    ids = value.split()
    if not ids or (one and len(ids) > 1) or not all(_MSG_ID.match(i) for i in ids):
        raise NotPlain
    return " ".join(ids)


def _fold(name: str, items: list[str], sep: str = ", ") -> str:
    """`Name: item, item`, folded before an item when the line would pass MAX_LINE."""
    out, line = [], f"{name}:"
    joiner = sep.rstrip()  # "," between addresses, nothing between message ids
    for i, item in enumerate(items):
        if i and len(line) + len(joiner) + 1 + len(item) > MAX_LINE:
            out.append(line + joiner)
            line = " " + item
        else:
            line += (joiner if i else "") + " " + item
        if len(line) > 990:
            raise NotPlain  # one unbreakable item too long for a line
    out.append(line)
    return CRLF.join(out)


def _text_part(text: str) -> tuple[list[str], str]:
    """(headers, body) as the stdlib's set_content writes them under policy.default."""
    raw_lines = text.encode("utf-8", "surrogateescape").splitlines()
    body = b"\n".join(raw_lines) + b"\n"
    headers = ['Content-Type: text/plain; charset="utf-8"']
    if max((len(line) for line in raw_lines), default=0) <= MAX_LINE:
        cte = "7bit" if body.isascii() else "8bit"
        headers.append(f"Content-Transfer-Encoding: {cte}")
        return headers, body.decode("utf-8", "surrogateescape").replace("\n", CRLF)
    headers.append("Content-Transfer-Encoding: quoted-printable")
    encoded = quopri.encodestring(body, quotetabs=False).decode("ascii")
    return headers, encoded.replace("\n", CRLF)


def _attachment(f) -> tuple[list[str], str]:
    if not _TYPE.match(f.content_type or "") or not _FILENAME.match(f.filename or ""):
        raise NotPlain
    maintype, _, subtype = f.content_type.partition("/")
    headers = [
        f"Content-Type: {maintype}/{subtype}",
        "Content-Transfer-Encoding: base64",
        f'Content-Disposition: attachment; filename="{f.filename}"',
        "MIME-Version: 1.0",
    ]
    return headers, base64.encodebytes(f.data).decode("ascii").replace("\n", CRLF)
