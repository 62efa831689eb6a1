"""Which mailbox messages come in: only mail with a candidate, or with a known non-candidate.

Decided on the headers alone (From, To, Cc, Message-ID), before any body is fetched: a
message qualifies when one of its addresses is a candidate's (in the pool or an open job: mail
that concerns only the candidates of closed, archived, jobs stops coming in), or the address of someone who
already wrote to the team in a non-candidate conversation. Mail among team members only,
newsletters and personal mail name none of these and are never fetched. A message already
here (same Message-ID: a reply that also reached the inbound address, mail sent from Hiremail
and copied to Sent) is skipped.
"""

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import getaddresses

from sqlalchemy import exists, or_, select

from webapp.extensions import db
from webapp.mail.sync.imap import Fetched
from webapp.models import CandidateEmail, Message, Offer, Outcome, Placement

# A header line's continuation (folding): joined to the line before it.
_FOLD = re.compile(r"\r?\n[ \t]+")
HEADER_FIELDS = "FROM TO CC MESSAGE-ID"
# The Sent folder's messages also say what they answer: those are classified before them.
SENT_HEADER_FIELDS = HEADER_FIELDS + " IN-REPLY-TO REFERENCES"
# An address list with none of the characters that need the full parser (quoted names,
# comments, groups, escapes): split at commas, the address in <...> or the whole part.
_PLAIN_LIST = re.compile(r'[^"();:\\]*')
_ANGLED = re.compile(r"<([^<>]*)>")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_READ = ("from", "to", "cc", "message-id", "in-reply-to", "references")
_FIELD_BREAK = re.compile(rb"\n(?![ \t])")  # where a header field ends (not where it folds)
# How the fields holding Message-IDs start. A block has only the fields asked for (HEADER_FIELDS),
# so every other one is From, To or Cc, however oddly written ("To\t:", "CC :").
_ID_FIELDS = {b"mes", b"in-", b"ref"}
# Anything shaped like an address in a header block's bytes: a run of characters no unquoted
# address holds, each side of an @. Every address `read_head` finds that could be anyone's is
# one of these (lower-cased); a quoted local part ("a b"@x) is not, and is read whole.
_ADDRESS_LIKE = re.compile(rb'[^\s<>,;:"()\[\]@\\]+@[^\s<>,;:"()\[\]@\\]+')


@dataclass
class Head:
    """What the filter reads of one message: its UID, size, addresses and Message-ID."""

    uid: int
    size: int
    addresses: list[str]
    message_id: str | None
    answers: list[str] = field(default_factory=list)  # Message-IDs in In-Reply-To and References


def heads_worth_reading(blocks: list[Fetched]) -> tuple[list[Head], set[str]]:
    """The fetched header blocks that may qualify, read, with the known addresses among theirs.

    Most of a mailbox is mail that is not for us, and a sync reads the headers of all of it:
    each block's addresses are first looked up as they stand in its bytes (a regex a block,
    two queries a batch), and only a block with a known one, or a quoted local part, is read
    whole (read_head); the others are dropped unread. `qualifying` then decides on the heads
    exactly as on any, with the addresses already looked up.
    """
    found = [[a.decode("utf-8", "replace").lower() for a in _address_like(b.data)] for b in blocks]
    looked_up = {a for addresses in found for a in addresses}
    known = known_addresses(looked_up)
    heads = [
        read_head(block.uid, block.size, block.data)
        for block, addresses in zip(blocks, found, strict=True)
        if b'"@' in block.data or any(a in known for a in addresses)
    ]
    # A quoted local part, read whole, may give an address not looked up yet (seldom: no query).
    known |= known_addresses({a for head in heads for a in head.addresses} - looked_up)
    return heads, known


def _address_like(header_bytes: bytes) -> list[bytes]:
    """What looks like an address in the block's From, To and Cc (not its Message-IDs, unique to each)."""
    return [
        token
        for field in _FIELD_BREAK.split(header_bytes)
        if field[:3].lower() not in _ID_FIELDS
        for token in _ADDRESS_LIKE.findall(field)
    ]


def read_head(uid: int, size: int, header_bytes: bytes) -> Head:
    """The addresses (lower-cased) and Message-ID of a header block; a broken header counts as none.

    Read by hand (unfold, split at the colon): the email package's parser builds a whole
    message object per header block, and reading every header of a large mailbox is the one
    cost of a sync that grows with the mailbox, not with the mail it imports.
    """
    values: dict[str, list[str]] = {name: [] for name in _READ}
    text = _FOLD.sub(" ", header_bytes.decode("utf-8", errors="replace"))
    for line in text.splitlines():
        name, colon, value = line.partition(":")
        found = values.get(name.strip().lower()) if colon else None
        if found is not None:
            found.append(value.strip())
    addresses = _addresses(values["from"] + values["to"] + values["cc"])
    message_id = "".join(values["message-id"][0].split()) if values["message-id"] else ""
    answers = _MESSAGE_ID.findall(" ".join(values["in-reply-to"] + values["references"]))
    return Head(uid, size, list(dict.fromkeys(addresses)), message_id[:998] or None, answers)


def _addresses(fields: list[str]) -> list[str]:
    """The addresses (lower-cased) of address-list header values; a list it cannot read gives none.

    Plain lists (most mail) are split by hand: the email package's parser costs more than
    anything else a sync does per message, for the same answer.
    """
    found: list[str] = []
    hard: list[str] = []
    for value in fields:
        if not _PLAIN_LIST.fullmatch(value):
            hard.append(value)
            continue
        for part in value.split(","):
            angled = _ANGLED.search(part)
            address = (angled.group(1) if angled else part).strip()
            if "@" in address:
                found.append(address.lower())
    if hard:
        # An address list the parser cannot read names nobody we know.
        with contextlib.suppress(Exception):
            found.extend(a.strip().lower() for _, a in getaddresses(hard) if "@" in a)
    return found


# A candidate placed only on closed (archived) jobs is no longer followed: their mail stays
# out of a sync. One in no job (the talent pool) or in one open job still counts.
_PLACED = exists().where(Placement.candidate_id == CandidateEmail.candidate_id)
_IN_AN_OPEN_JOB = exists().where(
    Placement.candidate_id == CandidateEmail.candidate_id, Placement.offer_id == Offer.id, Offer.is_open
)
_FOLLOWED = or_(~_PLACED, _IN_AN_OPEN_JOB)


def known_addresses(addresses: Iterable[str]) -> set[str]:
    """Those of `addresses` that are a followed candidate's, or a known non-candidate's (two queries).

    A candidate of closed jobs only is not followed (see _FOLLOWED).
    """
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return set()
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        found.update(
            db.session.scalars(select(CandidateEmail.email).where(CandidateEmail.email.in_(part), _FOLLOWED))
        )
        found.update(
            db.session.scalars(
                select(Message.from_address)
                .where(Message.outcome == Outcome.NON_CANDIDATE, Message.from_address.in_(part))
                .distinct()
            )
        )
    return found


def existing_message_ids(message_ids: Iterable[str]) -> set[str]:
    """Those of `message_ids` some message here already has."""
    wanted = sorted({m for m in message_ids if m})
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        found.update(db.session.scalars(select(Message.message_id).where(Message.message_id.in_(part))))
    return found


def qualifying(heads: list[Head], seen: set[str], known: set[str] | None = None) -> list[Head]:
    """The heads to import: a known address among theirs, and a Message-ID not here yet.

    `seen` holds the Message-IDs taken earlier in this sync (both folders); it grows. `known`:
    the known ones among the heads' addresses, when already looked up (heads_worth_reading).
    """
    if known is None:
        known = known_addresses(a for h in heads for a in h.addresses)
    candidates = [h for h in heads if any(a in known for a in h.addresses)]
    here = existing_message_ids(h.message_id for h in candidates if h.message_id)
    taken = []
    for head in candidates:
        if head.message_id and (head.message_id in here or head.message_id in seen):
            continue
        if head.message_id:
            seen.add(head.message_id)
        taken.append(head)
    return taken
