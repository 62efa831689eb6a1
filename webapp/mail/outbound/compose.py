"""Outbound mail: validate and store what a user writes (with its own Message-ID).

Stored messages wait as queued or scheduled; webapp/mail/outbound/delivery.py sends them exactly once.
The edits here (cancel, send now, retry, edit) are compare-and-set UPDATEs on the row, so
they can never race a worker that is already sending.
"""

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.mail.domain import MailDomain
from webapp.mail.idn import looks_alike, unicode_domain
from webapp.mail.msgids import threading_headers
from webapp.mail.outbound import signature
from webapp.mail.outbound.build import OutgoingFile, header_text, new_message_id
from webapp.mail.phrases import N_
from webapp.mail.read import entries
from webapp.mail.read.access import visible_candidates
from webapp.mail.storage import BlobStore
from webapp.mail.sync import shared
from webapp.models import (
    Attachment,
    Candidate,
    CandidateEmail,
    CandidateFile,
    Direction,
    Message,
    Offer,
    Placement,
    Status,
    Thread,
    User,
)
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
    forward_of: Message | None = None  # the message forwarded (its attachments are in `attachments`)
    # The sender confirmed the privacy warning: its token (privacy_token), so that a confirmation
    # holds only for what was shown (other recipients or files: a new warning).
    privacy_confirmed: str = ""
    # A draft brought back by Undo or Cancel keeps what it carried (stored_scope of the draft).
    resumed: "Scope | None" = None
    # Written from a shared mailbox (jobs@) the user shares: its id; None: their own address.
    from_mailbox_id: int | None = None


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
            # The domain as A-labels (exämple.com: xn--exmple-cua.com), as every server takes it.
            good.append(f"{valid.local_part}@{valid.ascii_domain}".lower())
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


def candidates_seen_owning(user: User | None, addresses: list[str]) -> dict[str, int]:
    """{address: candidate id} for the addresses of candidates `user` may see (None: anyone).

    A candidate the user may not see is, to them, a stranger: compose answers the same for
    their address as for anyone's (docs/decisions/0006).
    """
    owners = candidates_owning(addresses)
    if user is None or not owners:
        return owners
    seen = set(
        db.session.scalars(
            visible_candidates(user).with_only_columns(Candidate.id).where(Candidate.id.in_(owners.values()))
        )
    )
    return {address: cid for address, cid in owners.items() if cid in seen}


def check(data: Compose, now: datetime, user: User | None = None) -> dict[str, list[str]]:
    """Every reason to refuse `data`, by form field (empty: it may be sent)."""
    errors: dict[str, list[str]] = {}
    if not data.to:
        errors.setdefault("to", []).append(N_("Add at least one recipient."))
    hidden = candidates_seen_owning(user, data.cc + data.bcc)
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
    for name, addresses in (("to", data.to), ("cc", data.cc), ("bcc", data.bcc)):
        for address in addresses:
            domain = address.rpartition("@")[2]
            if looks_alike(domain):
                errors.setdefault(name, []).append(
                    N_(
                        "%(address)s mixes alphabets in its domain name (%(domain)s), as look-alike "
                        "addresses do. Check the address and type it again.",
                        address=address,
                        domain=unicode_domain(domain),
                    )
                )
    in_to = candidates_seen_owning(user, data.to)
    if len(set(in_to.values())) > 1:
        errors.setdefault("to", []).append(
            N_("Several candidates in To would see each other's addresses. Use bulk email instead.")
        )
    if not clean_line(data.subject):
        errors.setdefault("subject", []).append(N_("Add a subject."))
    if data.send_at is not None and data.send_at <= now:
        errors.setdefault("send_at", []).append(N_("Choose a time in the future."))
    return errors


@dataclass
class Scope:
    """Whose data a message carries: a candidate (and the offer of their conversation), or an
    offer's CV with no candidate yet (`cv_offer_id`). It decides who may see the message."""

    candidate_id: int | None = None
    offer_id: int | None = None
    cv_offer_id: int | None = None
    # What leaves with the message, for the privacy warning: "cv", "mail" or "offer_cv" of `name`.
    what: str = ""
    name: str = ""
    carried: bool = False  # the scope comes from mail or files carried, not from the recipients


def _source_scope(msg: Message) -> Scope:
    """The scope of a forwarded message: its candidate's, or its offer's for a CV not yet processed."""
    thread = msg.thread
    candidate_id = msg.candidate_id or (thread.candidate_id if thread is not None else None)
    offer_id = thread.offer_id if thread is not None else None
    kind = "cv" if any(not a.is_inline for a in msg.attachments) else "mail"
    if candidate_id is not None:
        return Scope(candidate_id, offer_id, None, kind, _name(candidate_id), carried=True)
    cv_offer_id = msg.cv_offer_id if msg.is_cv else (msg.cv_offer_id or (offer_id if thread else None))
    if cv_offer_id is not None:
        title = db.session.get_one(Offer, cv_offer_id).title
        return Scope(None, cv_offer_id, cv_offer_id, "offer_cv", title, carried=True)
    return Scope()


def _file_scope(files: list[OutgoingFile], store: BlobStore) -> Scope:
    """The candidate whose CV or mail attachment is among `files` (the same bytes), if any."""
    candidate_id = candidate_of_files([hashlib.sha256(f.data).hexdigest() for f in files])
    if candidate_id is None:
        return Scope()
    return Scope(candidate_id, _single_offer(candidate_id), None, "cv", _name(candidate_id), carried=True)


def candidate_of_files(shas: list[str]) -> int | None:
    """The candidate one of whose CVs or received attachments has one of these contents (sha256).

    Mail that attaches it carries their data, wherever it was written (here, or in the sender's
    own mail client: webapp/mail/sync/sent.py).
    """
    if not shas:
        return None
    kept = select(CandidateFile.candidate_id).join(Attachment, Attachment.id == CandidateFile.attachment_id)
    received = select(Message.candidate_id).join(Attachment, Attachment.message_id == Message.id)
    return db.session.scalar(
        kept.where(Attachment.sha256.in_(shas)).union(
            received.where(
                Attachment.sha256.in_(shas),
                ~Attachment.is_inline,
                Message.direction == Direction.INBOUND,
                Message.candidate_id.is_not(None),
            )
        )
    )


def _name(candidate_id: int) -> str:
    candidate = db.session.get_one(Candidate, candidate_id)
    return candidate.full_name or candidate.primary_email or "?"


def _single_offer(candidate_id: int) -> int | None:
    offers = list(
        db.session.scalars(select(Placement.offer_id).where(Placement.candidate_id == candidate_id).limit(2))
    )
    return offers[0] if len(offers) == 1 else None


def scope_of(user: User, data: Compose, store: BlobStore) -> Scope:
    """Whose data the message carries: what it forwards or attaches first, then its conversation,
    then the candidate (one the sender may see) it is addressed to.

    A forward, or a message attaching a candidate's CV, stays in that candidate's (or offer's)
    scope whoever it goes to (docs/folders.md, "A conversation keeps its candidate and offer scope").
    """
    if data.resumed is not None and data.resumed.carried:
        return data.resumed
    if data.forward_of is not None:
        scope = _source_scope(data.forward_of)
        if scope.carried:
            return scope
    scope = _file_scope(data.attachments, store)
    if scope.carried:
        return scope
    thread = db.session.get_one(Thread, data.thread_id) if data.thread_id else None
    owners = candidates_seen_owning(user, data.to)
    candidate_id = next(iter(owners.values()), None)
    if thread is not None:
        if candidate_id is None and thread.candidate_id is None and thread.offer_id is not None:
            # A reply in an offer's CV conversation (no candidate yet): that offer's team only.
            return Scope(None, thread.offer_id, thread.offer_id)
        return Scope(candidate_id or thread.candidate_id, thread.offer_id)
    return Scope(candidate_id, _single_offer(candidate_id) if candidate_id else None)


def stored_scope(msg: Message) -> Scope:
    """The scope a stored outbound message was given, with what it carries (for an edit or a resend)."""
    offer_id = msg.thread.offer_id if msg.thread is not None else None
    scope = Scope(msg.candidate_id, offer_id, msg.cv_offer_id)
    if msg.carries is None:  # written before messages said what they carry: its files tell
        carried = candidate_of_files([a.sha256 for a in msg.attachments if not a.is_inline])
        if carried is not None:
            return Scope(msg.candidate_id or carried, offer_id, msg.cv_offer_id, "cv", _name(carried), True)
        return scope
    if msg.carries == "offer_cv" and msg.cv_offer_id is not None:
        name = db.session.get_one(Offer, msg.cv_offer_id).title
    elif msg.carries and msg.candidate_id is not None:
        name = _name(msg.candidate_id)
    else:
        return scope
    return Scope(scope.candidate_id, offer_id, scope.cv_offer_id, msg.carries, name, carried=True)


def team_addresses(domain: str) -> set[str]:
    """Every address that reaches the team: logins, personal inbound addresses."""
    rows = db.session.execute(select(User.email, User.inbound_local))
    return {a.lower() for email, local in rows for a in (email, f"{local}@{domain}")}


def privacy_warnings(data: Compose, scope: Scope, domain: str) -> list[str]:
    """What leaves the team with this message and to whom, for the sender to confirm.

    Only for mail that carries a candidate's (or an offer's CV) data to an address outside the
    team: "Léa Martin's CV goes to hiring.manager@acme.example". Their own address is not outside.
    """
    if not scope.carried:
        return []
    theirs = set()
    if scope.candidate_id is not None:
        theirs = set(
            db.session.scalars(
                select(func.lower(CandidateEmail.email)).where(
                    CandidateEmail.candidate_id == scope.candidate_id
                )
            )
        )
    team = team_addresses(domain)
    outside = [
        a
        for a in dict.fromkeys(data.to + data.cc + data.bcc)
        if a not in team and a not in theirs and not a.endswith("@" + domain)
    ]
    if not outside:
        return []
    to = ", ".join(outside)
    if scope.what == "cv":
        return [N_("%(name)s's CV goes to %(addresses)s.", name=scope.name, addresses=to)]
    if scope.what == "offer_cv":
        return [N_("A CV sent to %(offer)s goes to %(addresses)s.", offer=scope.name, addresses=to)]
    return [N_("%(name)s's mail goes to %(addresses)s.", name=scope.name, addresses=to)]


def privacy_token(warnings: list[str]) -> str:
    """What confirming these warnings posts back: it confirms these, and nothing else."""
    return hashlib.sha256("\n".join(warnings).encode()).hexdigest()[:32]


def _thread_for(data: Compose, scope: Scope, subject: str) -> Thread:
    if data.thread_id:
        return db.session.get_one(Thread, data.thread_id)
    thread = Thread(
        subject=subject,
        candidate_id=scope.candidate_id,
        offer_id=scope.offer_id,
        last_message_at=utcnow(),
    )
    db.session.add(thread)
    return thread


def create(user: User, data: Compose, settings: MailDomain, store: BlobStore) -> Message:
    """Store a message to send now (queued) or later (scheduled); raises ComposeError. Flushes.

    Mail that carries a candidate's data outside the team is refused ("confirm_privacy") until the
    sender confirms it (`privacy_confirmed`).
    """
    now = utcnow()
    errors = check(data, now, user)
    if errors:
        raise ComposeError(errors)
    scope = scope_of(user, data, store)
    if (
        data.forward_of is not None
        and data.forward_of.is_cv
        and data.forward_of.cv_offer_id is None
        and not scope.carried
    ):
        # The company CV inbox is for admins: its CVs have no offer to keep a forward with.
        raise ComposeError({"to": [N_("Make this CV a candidate before forwarding it.")]})
    warnings = privacy_warnings(data, scope, settings.domain)
    if warnings and data.privacy_confirmed != privacy_token(warnings):
        raise ComposeError({"confirm_privacy": warnings})
    from_address = user.inbound_address(settings.domain)
    if data.from_mailbox_id is not None:
        mailbox = next((c for c in shared.sendable_for(user.id) if c.id == data.from_mailbox_id), None)
        if mailbox is None:
            raise ComposeError(
                {"sender": [N_("You cannot write from this mailbox: it is not shared with you.")]}
            )
        from_address = clean_line(mailbox.username)
    subject = clean_line(data.subject)
    thread = _thread_for(data, scope, subject)
    in_reply_to, references = None, None
    if data.in_reply_to is not None:
        # Only well-formed ids: one that decoded to a line break must never reach a header.
        in_reply_to, references = threading_headers(data.in_reply_to.message_id, data.in_reply_to.references)
    msg = Message(
        thread=thread,
        direction=Direction.OUTBOUND,
        status=Status.SCHEDULED if data.send_at else Status.QUEUED,
        message_id=new_message_id(settings.domain),
        in_reply_to=in_reply_to,
        references=references,
        from_address=from_address,
        from_name=clean_line(user.name),
        to_addresses=data.to,
        cc_addresses=data.cc,
        bcc_addresses=data.bcc,
        subject=subject,
        body_text=data.body,
        # An HTML part only when the body still ends with the sender's formatted signature.
        body_html=signature.html_body(data.body, user.signature, user.signature_html),
        snippet=" ".join(data.body.split())[:200],
        candidate_id=scope.candidate_id,
        cv_offer_id=scope.cv_offer_id,
        carries=scope.what if scope.carried else None,
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
    """Cancel a scheduled message unless a worker already took it: it becomes a draft again
    (Drafts), with everything in it, never nothing. Undo send is the same change."""
    return _change(
        message_id,
        user_id,
        (Status.SCHEDULED,),
        status=Status.DRAFT,
        scheduled_at=None,
    )


def send_now(message_id: int, user_id: int) -> bool:
    """Move a scheduled message to the front: send it at once (it now stands at this time)."""
    return _change(
        message_id,
        user_id,
        (Status.SCHEDULED,),
        status=Status.QUEUED,
        scheduled_at=None,
        sort_at=utcnow(),
        held_at=None,
    )


def release(message_id: int, user_id: int) -> bool:
    """The author confirms held mail (the candidate replied since it was scheduled): it goes
    at its time, or at once if that time has passed."""
    return _change(message_id, user_id, (Status.SCHEDULED,), held_at=None)


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


def update_scheduled(message_id: int, user: User, data: Compose, domain: str) -> bool:
    """Edit a scheduled message in place (content and time), unless it is already leaving.

    It keeps its candidate scope; new recipients outside the team get the privacy warning a
    fresh send gets (confirm_privacy), those it had were confirmed when it was written.
    """
    errors = check(data, utcnow(), user)
    if errors:
        raise ComposeError(errors)
    msg = db.session.get(Message, message_id)
    if msg is not None:
        scope = stored_scope(msg)
        had = set(msg.to_addresses + msg.cc_addresses + msg.bcc_addresses)
        added = Compose(to=[a for a in data.to + data.cc + data.bcc if a not in had], subject="", body="")
        warnings = privacy_warnings(data, scope, domain)
        if privacy_warnings(added, scope, domain) and data.privacy_confirmed != privacy_token(warnings):
            raise ComposeError({"confirm_privacy": warnings})
    subject = clean_line(data.subject)
    changed = _change(
        message_id,
        user.id,
        (Status.SCHEDULED,),
        to_addresses=data.to,
        cc_addresses=data.cc,
        bcc_addresses=data.bcc,
        subject=subject,
        body_text=data.body,
        body_html=signature.html_body(data.body, user.signature, user.signature_html),
        snippet=" ".join(data.body.split())[:200],
        scheduled_at=data.send_at,
        sort_at=data.send_at,
        held_at=None,  # edited after the candidate's reply: the author has seen it
    )
    if changed:
        _retitle_own_conversation(message_id, subject)
    return changed


def _retitle_own_conversation(message_id: int, subject: str) -> None:
    """A conversation opened by this message alone takes its new subject (the pane's title)."""
    thread_id = db.session.scalar(select(Message.thread_id).where(Message.id == message_id))
    others = select(Message.id).where(Message.thread_id == thread_id, Message.id != message_id).limit(1)
    if thread_id is not None and db.session.scalar(others) is None:
        execute_dml(
            update(Thread)
            .where(Thread.id == thread_id)
            .values(subject=subject)
            .execution_options(synchronize_session="fetch")
        )
