"""Outbound mail: validate and store what a user writes (with its own Message-ID).

Stored messages wait as queued or scheduled; webapp/mail/outbound/delivery.py sends them exactly once.
The edits here (cancel, send now, retry, edit) are compare-and-set UPDATEs on the row, so
they can never race a worker that is already sending.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select, update

from webapp.extensions import db
from webapp.mail.domain import MailDomain
from webapp.mail.outbound.build import OutgoingFile, header_text, new_message_id
from webapp.mail.phrases import N_
from webapp.mail.read import entries
from webapp.mail.storage import BlobStore
from webapp.models import Attachment, CandidateEmail, Direction, Message, Placement, Status, Thread, User
from webapp.models.core import execute_dml
from webapp.models.types import utcnow

_SPLIT = re.compile(r"[,;\s]+")


@dataclass
class Compose:
    """What the user asked to send."""

    to: list[str]
    subject: str
    body: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    attachments: list[OutgoingFile] = field(default_factory=list)
    send_at: datetime | None = None  # aware UTC; None = now
    thread_id: int | None = None  # a reply goes into its conversation
    in_reply_to: Message | None = None
    bulk_id: int | None = None


class ComposeError(Exception):
    """Refused, with messages per field (shown in place in the form)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def clean_line(text: str) -> str:
    """One header line: CR, LF, other controls and encoded words can never reach a header."""
    return header_text(text)


def parse_addresses(raw: str | list[str], allow_test_domains: bool = False) -> tuple[list[str], list[str]]:
    """(valid normalised addresses, invalid entries) from a comma/space separated field.

    `allow_test_domains` admits the reserved .test names (demo data and test runs only).
    """
    items = raw if isinstance(raw, list) else _SPLIT.split(raw or "")
    good, bad = [], []
    for item in (i.strip().strip("<>") for i in items):
        if not item:
            continue
        try:
            # No DNS: a look-up per keystroke would be slow and leaks what we write to.
            valid = validate_email(item, check_deliverability=False, test_environment=allow_test_domains)
            good.append(valid.normalized.lower())
        except EmailNotValidError:
            bad.append(item)
    return list(dict.fromkeys(good)), bad


def candidates_owning(addresses: list[str]) -> dict[str, int]:
    """{address: candidate id} for the addresses that belong to a candidate."""
    if not addresses:
        return {}
    rows = db.session.execute(
        select(CandidateEmail.email, CandidateEmail.candidate_id).where(CandidateEmail.email.in_(addresses))
    )
    return dict(rows.tuples().all())


def check(data: Compose, now: datetime) -> dict[str, list[str]]:
    """Every reason to refuse `data`, by form field (empty: it may be sent)."""
    errors: dict[str, list[str]] = {}
    if not data.to:
        errors.setdefault("to", []).append(N_("Add at least one recipient."))
    hidden = candidates_owning(data.cc + data.bcc)
    for name, addresses in (("cc", data.cc), ("bcc", data.bcc)):
        for address in addresses:
            if address in hidden:
                errors.setdefault(name, []).append(
                    N_(
                        "%(address)s is a candidate's address: candidates may not see each other in Cc "
                        "or Bcc. "
                        "Use bulk email to send each candidate a separate message.",
                        address=address,
                    )
                )
    in_to = candidates_owning(data.to)
    if len(set(in_to.values())) > 1:
        errors.setdefault("to", []).append(
            N_("Several candidates in To would see each other's addresses. Use bulk email instead.")
        )
    if not clean_line(data.subject):
        errors.setdefault("subject", []).append(N_("Add a subject."))
    if data.send_at is not None and data.send_at <= now:
        errors.setdefault("send_at", []).append(N_("Choose a time in the future."))
    return errors


def _thread_for(data: Compose, candidate_id: int | None, subject: str) -> Thread:
    if data.thread_id:
        return db.session.get_one(Thread, data.thread_id)
    offers = (
        list(
            db.session.scalars(
                select(Placement.offer_id).where(Placement.candidate_id == candidate_id).limit(2)
            )
        )
        if candidate_id
        else []
    )
    thread = Thread(
        subject=subject,
        candidate_id=candidate_id,
        offer_id=offers[0] if len(offers) == 1 else None,
        last_message_at=utcnow(),
    )
    db.session.add(thread)
    return thread


def create(user: User, data: Compose, settings: MailDomain, store: BlobStore) -> Message:
    """Store a message to send now (queued) or later (scheduled); raises ComposeError. Flushes."""
    now = utcnow()
    errors = check(data, now)
    if errors:
        raise ComposeError(errors)
    subject = clean_line(data.subject)
    owners = candidates_owning(data.to)
    candidate_id = next(iter(owners.values()), None)
    thread = _thread_for(data, candidate_id, subject)
    references = None
    if data.in_reply_to is not None and data.in_reply_to.message_id:
        references = " ".join(filter(None, [data.in_reply_to.references, data.in_reply_to.message_id]))[
            -4000:
        ]
    msg = Message(
        thread=thread,
        direction=Direction.OUTBOUND,
        status=Status.SCHEDULED if data.send_at else Status.QUEUED,
        message_id=new_message_id(settings.domain),
        in_reply_to=data.in_reply_to.message_id if data.in_reply_to is not None else None,
        references=references,
        from_address=user.inbound_address(settings.domain),
        from_name=clean_line(user.name),
        to_addresses=data.to,
        cc_addresses=data.cc,
        bcc_addresses=data.bcc,
        subject=subject,
        body_text=data.body,
        snippet=" ".join(data.body.split())[:200],
        candidate_id=candidate_id or (thread.candidate_id if data.thread_id else None),
        sender_id=user.id,
        source="compose",
        scheduled_at=data.send_at,
        sort_at=data.send_at or now,
        created_at=now,
        bulk_id=data.bulk_id,
        has_attachments=bool(data.attachments),
    )
    for f in data.attachments:
        msg.attachments.append(
            Attachment(
                filename=f.filename, content_type=f.content_type, size=len(f.data), sha256=store.put(f.data)
            )
        )
    db.session.add(msg)
    thread.touch(now)
    db.session.flush()
    entries.refresh([thread.id])
    return msg


def _change(message_id: int, user_id: int, from_statuses: tuple[str, ...], **values) -> bool:
    """Compare-and-set on the user's own message; True if this caller changed it."""
    result = execute_dml(
        update(Message)
        .where(Message.id == message_id, Message.sender_id == user_id, Message.status.in_(from_statuses))
        .values(**values)
        .returning(Message.thread_id)
    )
    thread_ids = list(result.scalars())
    entries.refresh(thread_ids)
    return bool(thread_ids)


def cancel(message_id: int, user_id: int) -> bool:
    """Cancel a scheduled message unless a worker already took it."""
    return _change(message_id, user_id, (Status.SCHEDULED,), status=Status.CANCELLED)


def send_now(message_id: int, user_id: int) -> bool:
    """Move a scheduled message to the front: send it at once."""
    return _change(message_id, user_id, (Status.SCHEDULED,), status=Status.QUEUED, scheduled_at=None)


def retry(message_id: int, user_id: int) -> bool:
    """Queue a failed (or outcome-unknown, after the user checked) message again."""
    return _change(
        message_id,
        user_id,
        (Status.FAILED, Status.UNKNOWN),
        status=Status.QUEUED,
        scheduled_at=None,
        error=None,
        delivery_state=None,
    )


def mark_sent(message_id: int, user_id: int) -> bool:
    """The user confirmed an outcome-unknown message did arrive."""
    return _change(message_id, user_id, (Status.UNKNOWN,), status=Status.SENT, error=None)


def reschedule(message_id: int, user_id: int, at: datetime) -> bool:
    """Move a scheduled message to another time (after its candidate is back), unless it is leaving."""
    return _change(message_id, user_id, (Status.SCHEDULED,), scheduled_at=at, sort_at=at)


def update_scheduled(message_id: int, user: User, data: Compose) -> bool:
    """Edit a scheduled message in place (content and time), unless it is already leaving."""
    errors = check(data, utcnow())
    if errors:
        raise ComposeError(errors)
    return _change(
        message_id,
        user.id,
        (Status.SCHEDULED,),
        to_addresses=data.to,
        cc_addresses=data.cc,
        bcc_addresses=data.bcc,
        subject=clean_line(data.subject),
        body_text=data.body,
        snippet=" ".join(data.body.split())[:200],
        scheduled_at=data.send_at,
        sort_at=data.send_at,
    )
