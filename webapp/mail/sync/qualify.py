"""Which mailbox messages come in: only mail with a candidate, or with a known non-candidate.

Decided on the headers alone (From, To, Cc, Message-ID), before any body is fetched: a
message qualifies when one of its addresses is a candidate's, or the address of someone who
already wrote to the team in a non-candidate conversation. Mail among team members only,
newsletters and personal mail name none of these and are never fetched. A message already
here (same Message-ID: a reply that also reached the inbound address, mail sent from Hiremail
and copied to Sent) is skipped.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from email.policy import compat32
from email.utils import getaddresses

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import CandidateEmail, Message, Outcome

_HEADERS = BytesHeaderParser(policy=compat32)
HEADER_FIELDS = "FROM TO CC MESSAGE-ID"


@dataclass
class Head:
    """What the filter reads of one message: its UID, size, addresses and Message-ID."""

    uid: int
    size: int
    addresses: list[str]
    message_id: str | None


def read_head(uid: int, size: int, header_bytes: bytes) -> Head:
    """The addresses (lower-cased) and Message-ID of a header block; a broken header counts as none."""
    try:
        msg = _HEADERS.parsebytes(header_bytes)
        values = [str(v) for name in ("from", "to", "cc") for v in (msg.get_all(name) or [])]
        addresses = [a.strip().lower() for _, a in getaddresses(values) if "@" in a]
        message_id = "".join(str(msg.get("message-id") or "").split()) or None  # unfolded
    except Exception:  # a header the parser cannot read names nobody we know
        addresses, message_id = [], None
    return Head(uid, size, list(dict.fromkeys(addresses)), message_id[:998] if message_id else None)


def known_addresses(addresses: Iterable[str]) -> set[str]:
    """Those of `addresses` that are a candidate's, or a known non-candidate's (two queries)."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return set()
    found: set[str] = set()
    for start in range(0, len(wanted), 500):
        part = wanted[start : start + 500]
        found.update(db.session.scalars(select(CandidateEmail.email).where(CandidateEmail.email.in_(part))))
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


def qualifying(heads: list[Head], seen: set[str]) -> list[Head]:
    """The heads to import: a known address among theirs, and a Message-ID not here yet.

    `seen` holds the Message-IDs taken earlier in this sync (both folders); it grows.
    """
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
