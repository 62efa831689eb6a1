"""Bounds on address headers, checked on their raw text before anything parses them.

The stdlib's header parser (the `email.policy` one) is quadratic on some address values: a
20 KB To of `a....@x`, a run of backslashes or of bare words takes it 7 s, and a 154 KB Cc of
repeated groups kept a worker busy 96 s. Its older `getaddresses` is linear but recurses once
per nested comment or group. So, before parsing:

- an address header (all its occurrences together) over `address_header_bytes`, with more than
  `addresses` addresses or `marks` structural characters (quotes, brackets, `:;@<>()`),
  comments nested deeper than `comment_depth` or groups deeper than `group_depth` is not
  parsed at all: the message is quarantined with the reason (kept, never dropped);
- within those bounds, only short values, and only so many characters per message, go through
  the policy's parser (`policy_may_parse`); longer ones are read by the linear `getaddresses`.

The scan is one pass over the raw text (`shape`), linear on any input.
"""

import re
from dataclasses import dataclass

# The headers `email.headerregistry` parses as address lists.
ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "sender", "reply-to"}
    | {"resent-from", "resent-to", "resent-cc", "resent-bcc", "resent-sender"}
)
# The longest address value the policy's parser may read (characters): its cost grows with the
# square of the length on hostile input, ~15 ms at 1 KB.
POLICY_VALUE_CHARS = 1024
# All the address values of one message the policy's parser may read together (characters).
POLICY_BUDGET_CHARS = 4 * 1024
# What the scan stops at: an escaped character, quotes, comments, groups, angle brackets, at-signs.
_STRUCTURE = frozenset('"():;<>@')
_TOKENS = re.compile(r'\\.|["():;<>@]', re.DOTALL)


@dataclass(frozen=True)
class AddressLimits:
    """What one address header (all its occurrences together) may not exceed."""

    # 1000 recipients with names, a list far longer than mail clients let anyone send.
    address_header_bytes: int = 32 * 1024
    addresses: int = 1000
    marks: int = 6000
    comment_depth: int = 8
    group_depth: int = 4


@dataclass
class Shape:
    """What the scan of an address value found."""

    addresses: int = 0
    marks: int = 0
    comment_depth: int = 0
    group_depth: int = 0


def shape(value: str) -> Shape:
    """Count at-signs and nesting outside quoted strings, in one pass (linear on any input)."""
    found = Shape()
    quoted, comments, groups, angle = False, 0, 0, False
    for match in _TOKENS.finditer(value):
        token = match.group()
        if token[0] == "\\":
            if quoted or comments or token[1:] not in _STRUCTURE:
                continue  # an escaped character is text in a quoted string or a comment
            token = token[1]  # elsewhere a backslash escapes nothing: the readers see the next one
        found.marks += 1
        if quoted:
            quoted = token != '"'
        elif token == "(":
            comments += 1
            found.comment_depth = max(found.comment_depth, comments)
        elif token == ")":
            comments = max(comments - 1, 0)
        elif comments:
            continue  # anything else inside a comment is text
        elif token == '"':
            quoted = True
        elif token == "<":
            angle = True
        elif token == ">":
            angle = False
        elif token == "@":
            found.addresses += 1
        elif token == ":" and not angle:  # a colon inside <...> ends a source route
            groups += 1
            found.group_depth = max(found.group_depth, groups)
        elif token == ";":
            groups = max(groups - 1, 0)
    return found


def address_problems(msg, limits: AddressLimits | None = None) -> dict[str, str]:
    """{lower-case header name: what it breaks} for the address headers not to parse."""
    limits = limits or AddressLimits()
    values: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        if name.lower() in ADDRESS_HEADERS:
            values.setdefault(name.lower(), []).append(str(value))
    problems = {}
    for name, texts in values.items():
        label = name.title()
        size = sum(len(t.encode("utf-8", "surrogateescape")) for t in texts)
        if size > limits.address_header_bytes:
            problems[name] = f"{label} header over {limits.address_header_bytes} bytes"
            continue  # not scanned: the size alone decides
        found = [shape(t) for t in texts]
        if sum(s.addresses for s in found) > limits.addresses:
            problems[name] = f"{label} header with more than {limits.addresses} addresses"
        elif max(s.comment_depth for s in found) > limits.comment_depth:
            problems[name] = f"{label} header with comments nested deeper than {limits.comment_depth}"
        elif max(s.group_depth for s in found) > limits.group_depth:
            problems[name] = f"{label} header with groups nested deeper than {limits.group_depth}"
        elif sum(s.marks for s in found) > limits.marks:
            problems[name] = f"{label} header with more than {limits.marks} quotes, brackets or separators"
    return problems


class PolicyBudget:
    """How many characters of address values the policy's parser may still read for one message."""

    def __init__(self, chars: int = POLICY_BUDGET_CHARS):
        self.left = chars

    def spend(self, value: str) -> bool:
        """Whether the policy may parse `value` (and count it if so)."""
        if len(value) > POLICY_VALUE_CHARS or len(value) > self.left:
            return False
        self.left -= len(value)
        return True


def unfolded(value: str) -> str:
    """The raw value on one line, as the linear readers take it."""
    return value.replace("\r", "").replace("\n", "")
