"""Well-formed MIME read without the stdlib's line-by-line loop, into the tree it would build.

The stdlib's feed parser looks at every line of a message in Python: for the base64 of an
attached PDF, thousands of lines a message, most of classification's parsing time. Here
`str.find` finds a multipart's delimiter lines, the stdlib parses each part's headers (the
same code, headers only) and each body is a slice of the text. The result is the tree
`BytesFeedParser` builds (headers, payloads, preambles, epilogues, defects), for the messages
this takes: anything the feed parser would have to repair or read its own way (a boundary
missing, a part of type message/*, a digest, lone CRs, headers running into the body...)
gives None, and the caller parses the message the usual way. tests/test_mimesplit.py compares
both readers on every message of the corpora.
"""

import re
from collections.abc import Iterator
from email.message import Message
from email.parser import Parser
from email.policy import Policy
from typing import NamedTuple

# A header block as the feed parser reads it: lines that look like a header field, a
# continuation or an envelope From (feedparser.headerRE), each ending in a line feed.
# Possessive throughout: linear on any input.
_HEADER_LINES = re.compile(r"(?:(?:From |[\041-\071\073-\176]*+:|[\t ])[^\n]*+\n)*+")
_LONE_CR = re.compile(r"\r(?!\n)")
# A multipart's parts are at most this deep: deeper ones are left to the feed parser.
MAX_DEPTH = 20


class _Delimiter(NamedTuple):
    """A delimiter line: where it starts, where the next line starts, whether it closes."""

    start: int
    end: int
    closes: bool


class _Irregular(Exception):
    """The feed parser would read this text its own way (a defect, a special type)."""


def split_parse(raw: bytes, policy: Policy) -> Message | None:
    """`raw` parsed into the tree BytesFeedParser(policy=policy) gives; None if not taken here."""
    text = raw.decode("ascii", "surrogateescape")  # as BytesFeedParser decodes what it is fed
    # The feed parser ends a line at a lone CR too; here lines end at LF (CRLF included).
    if "\r" in text and _LONE_CR.search(text):
        return None
    try:
        # One parser for the headers of every part: they share the message's policy.
        return _message(text, 0, len(text), Parser(policy=policy), depth=0, nested=False)
    except (_Irregular, RecursionError):
        return None


# Parts are read as spans of the one decoded text (start, stop): only payloads are copied out,
# so a message costs its text and its payloads, not a copy of each part at each level.


def _message(text: str, start: int, stop: int, headers: Parser, depth: int, nested: bool) -> Message:
    """The message or part text[start:stop]: its headers by the stdlib, then its body.

    A part (nested) ends without the line break before the next delimiter: it belongs to the
    delimiter (RFC 2046 5.1.1), and the feed parser takes it off the payload, or the epilogue.
    """
    end = _HEADER_LINES.match(text, start, stop).end()  # type: ignore[union-attr]  # matches any text
    if end < stop and not text.startswith(("\n", "\r\n"), end, stop):
        raise _Irregular  # a line that is neither header nor blank: MissingHeaderBodySeparatorDefect
    head = text[start:end]
    if "\nFrom " in head:
        raise _Irregular  # an envelope From after the first line: read back as body, or a defect
    msg = headers.parsestr(head, headersonly=True)
    body = end + (1 if text.startswith("\n", end, stop) else 2) if end < stop else stop
    maintype = msg.get_content_maintype()
    if maintype == "message" or msg.get_content_type() == "multipart/digest":
        raise _Irregular  # messages inside, read by the feed parser's own rules
    if maintype != "multipart":
        msg.set_payload(text[body : _less_eol(text, body, stop) if nested else stop])
        return msg
    _split(msg, text, body, stop, headers, depth)
    if nested:  # what the feed parser does to a multipart part's epilogue, "" included
        epilogue = msg.epilogue
        msg.epilogue = epilogue[: _less_eol(epilogue, 0, len(epilogue))] if epilogue else None
    return msg


def _split(msg: Message, text: str, start: int, stop: int, headers: Parser, depth: int) -> None:
    """A multipart's preamble, parts and epilogue (text[start:stop]), as the feed parser cuts them."""
    boundary = msg.get_boundary()
    encoding = msg.get("content-transfer-encoding", "8bit").lower()
    if boundary is None or encoding not in ("7bit", "8bit", "binary") or depth >= MAX_DEPTH:
        raise _Irregular
    found = _delimiters(text, start, stop, "--" + boundary)
    first = next(found, None)
    if first is None or first.closes:
        raise _Irregular  # StartBoundaryNotFoundDefect
    if first.start > start:
        msg.preamble = text[start : _less_eol(text, start, first.start)]
    msg.set_payload([])  # the parts attached below: at least one, or _Irregular
    part = first.end
    for delimiter in found:
        if delimiter.start == part:
            raise _Irregular  # delimiters one after the other: the feed parser skips them
        msg.attach(_message(text, part, delimiter.start, headers, depth + 1, nested=True))
        part = delimiter.end
        if delimiter.closes:
            msg.epilogue = text[part:stop]
            return
    raise _Irregular  # CloseBoundaryNotFoundDefect


def _delimiters(text: str, start: int, stop: int, dashed: str) -> Iterator[_Delimiter]:
    """The delimiter lines of text[start:stop], in order.

    feedparser's boundaryre: at the start of a line, `--boundary`, then `--` if it closes,
    spaces or tabs, and the line's end. Found by str.find: a regular expression anchored at
    line starts tried every character of a 400 KB attachment.
    """
    at = start if text.startswith(dashed, start, stop) else _next_line_with(text, dashed, start, stop)
    while at >= 0:
        after = at + len(dashed)
        closes = text.startswith("--", after, stop)
        end = after + 2 if closes else after
        while end < stop and text[end] in " \t":
            end += 1
        if end == stop:
            yield _Delimiter(at, end, closes)
            return
        if text.startswith(("\n", "\r\n"), end, stop):
            yield _Delimiter(at, end + (1 if text[end] == "\n" else 2), closes)
        at = _next_line_with(text, dashed, at, stop)


def _next_line_with(text: str, begin: str, after: int, stop: int) -> int:
    """Where the next line beginning with `begin` begins, past `after` and before `stop`; -1 if none."""
    found = text.find("\n" + begin, after, stop)
    return found + 1 if found >= 0 else -1


def _less_eol(text: str, start: int, stop: int) -> int:
    """Where text[start:stop] ends less one line break at its end (feedparser's NLCRE_eol; no lone CR)."""
    if stop - start >= 2 and text.startswith("\r\n", stop - 2, stop):
        return stop - 2
    return stop - 1 if stop > start and text[stop - 1] == "\n" else stop
