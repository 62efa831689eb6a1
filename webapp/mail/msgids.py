"""Message identifiers (Message-ID, In-Reply-To, References): kept as received, never decoded.

An RFC 2047 encoded word in an identifier is not an identifier: decoding one could put a CR or
LF (or anything) into a header we write back when replying. So identifiers are read raw
(`raw_header`) and only tokens that are well-formed msg-ids (`<...>`, printable ASCII, no
space) are written into threading headers (`valid_ids`, `threading_headers`); the others are
left out.
"""

import re

# RFC 5322 msg-id, loosely: printable ASCII but space, < and >, between angle brackets.
_MSG_ID = re.compile(r"<[!-;=?-~]{1,900}>\Z")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
MAX_REFERENCES_CHARS = 4000


def raw_header(msg, name: str) -> str:
    """The header's text as received, unfolded on one line, without decoding; "" when absent."""
    for key, value in msg.raw_items():
        if key.lower() == name.lower():
            text = str(value)
            # Bytes that are not UTF-8 arrive as surrogates, which no database stores.
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            return " ".join(_CONTROL.sub("", text).split())
    return ""


def valid_ids(text: str | None) -> list[str]:
    """The well-formed msg-ids among the whitespace-separated tokens of `text`, in order."""
    return [token for token in (text or "").split() if _MSG_ID.match(token)]


def threading_headers(message_id: str | None, references: str | None) -> tuple[str | None, str | None]:
    """(In-Reply-To, References) for a reply to a message with these identifiers.

    Only well-formed ids go in; an invalid Message-ID leaves In-Reply-To out, and References
    keeps the newest ids that fit in MAX_REFERENCES_CHARS.
    """
    own = valid_ids(message_id)
    in_reply_to = own[0] if len(own) == 1 else None
    chain = valid_ids(references) + ([in_reply_to] if in_reply_to else [])
    kept: list[str] = []
    size = 0
    for token in reversed(chain):
        if size + len(token) + 1 > MAX_REFERENCES_CHARS:
            break
        kept.insert(0, token)
        size += len(token) + 1
    return in_reply_to, " ".join(kept) or None
