"""Bulk email: one text to many candidates, each in a separate message and conversation.

Recipients come from offers the user can access and from candidates picked in a folder. A
candidate placed on several chosen offers gets one message; a candidate the user cannot see
never gets one, whatever ids arrive. Placeholders are filled per candidate, and one candidate
with a missing value refuses the whole bulk: half a campaign is worse than none. A talent pool
is not a job: `[job.title]` is never filled with a pool's name.

Nothing leaves before the user has confirmed the count and the first message as its first
recipient reads it (`confirmation_key` ties the confirmation to what was shown). Sent later, the
messages wait as `scheduled` for the ordinary drain; `cancel_scheduled` withdraws those still
waiting, in one compare-and-set.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update

from webapp.extensions import db
from webapp.mail.domain import MailDomain
from webapp.mail.outbound import compose, placeholders
from webapp.mail.outbound.compose import Compose
from webapp.mail.phrases import N_
from webapp.mail.read import entries
from webapp.mail.read.access import accessible_offers, visible_candidates
from webapp.mail.storage import BlobStore
from webapp.models import PENDING_STATUSES, BulkSend, Candidate, Message, Offer, Placement, Status, User
from webapp.models.core import execute_dml

# More than this in one go is much more likely a wrong selection than a campaign.
MAX_RECIPIENTS = 1000
# The statuses the progress view counts, each shown even at zero.
BULK_COUNTED = (
    Status.SCHEDULED,
    Status.QUEUED,
    Status.SENDING,
    Status.SENT,
    Status.FAILED,
    Status.UNKNOWN,
    Status.CANCELLED,
)


@dataclass
class Recipient:
    candidate: Candidate
    address: str | None
    # The offer the conversation is about, when that is unambiguous; [job.title] only if a job.
    offer: Offer | None


@dataclass
class Recipients:
    ready: list[Recipient] = field(default_factory=list)
    skipped: list[Recipient] = field(default_factory=list)  # no email address
    left_out: int = 0  # candidate ids asked for that are unknown or not visible to the user


@dataclass
class Problem:
    """A candidate whose message cannot be written: which placeholders fail."""

    candidate: Candidate
    unknown: list[str]
    unfilled: list[str]
    pool: Offer | None = None  # [job.title] is unfilled because the recipient's offer is a talent pool


class BulkError(Exception):
    """Refused: general reasons and the candidates whose placeholders fail."""

    def __init__(self, reasons: list[str], problems: list[Problem] | None = None):
        super().__init__("; ".join(reasons) or "placeholder problems")
        self.reasons = reasons
        self.problems = problems or []


def offer_choices(user: User) -> list[Offer]:
    """The offers the user may bulk-mail (admins: all), open ones first, by title (the page's order)."""
    return list(db.session.scalars(accessible_offers(user).order_by(Offer.is_open.desc(), Offer.title)))


def placement_counts(offer_ids: list[int]) -> dict[int, int]:
    """{offer id: number of candidates placed on it}."""
    if not offer_ids:
        return {}
    rows = db.session.execute(
        select(Placement.offer_id, func.count())
        .where(Placement.offer_id.in_(offer_ids))
        .group_by(Placement.offer_id)
    )
    return dict(rows.tuples().all())


def offers_for(user: User, offer_ids: list[int]) -> list[Offer] | None:
    """The chosen offers in the order given, or None if any is unknown or not accessible."""
    wanted = list(dict.fromkeys(offer_ids))
    if not wanted:
        return []
    found = {o.id: o for o in db.session.scalars(accessible_offers(user).where(Offer.id.in_(wanted)))}
    if len(found) != len(wanted):
        return None
    return [found[i] for i in wanted]


def resolve(user: User, offers: list[Offer], candidate_ids: list[int]) -> Recipients:
    """Everyone on the chosen offers plus the picked candidates, once each, visible ones only."""
    chosen_offer_ids = [o.id for o in offers]
    on_offers: list[int] = []
    if chosen_offer_ids:
        on_offers = list(
            db.session.scalars(
                select(Placement.candidate_id)
                .where(Placement.offer_id.in_(chosen_offer_ids))
                .order_by(Placement.offer_id, Placement.id)
            )
        )
    picked = list(dict.fromkeys(candidate_ids))
    wanted = list(dict.fromkeys(on_offers + picked))
    result = Recipients()
    if not wanted:
        return result
    found = {c.id: c for c in db.session.scalars(visible_candidates(user).where(Candidate.id.in_(wanted)))}
    result.left_out = len([i for i in picked if i not in found])
    by_id = {o.id: o for o in offers}
    for candidate_id in wanted:
        candidate = found.get(candidate_id)
        if candidate is None:
            continue
        recipient = Recipient(candidate, candidate.primary_email, _job_for(candidate, by_id))
        (result.ready if recipient.address else result.skipped).append(recipient)
    result.ready.sort(
        key=lambda r: (r.candidate.last_name.lower(), r.candidate.first_name.lower(), r.candidate.id)
    )
    return result


def _job_for(candidate: Candidate, chosen: dict[int, Offer]) -> Offer | None:
    """The one chosen offer the candidate is on; else their only placement; else none."""
    placements = [p for p in candidate.placements]
    on_chosen = [p.offer for p in placements if p.offer_id in chosen]
    if len(on_chosen) == 1:
        return on_chosen[0]
    if not on_chosen and len(placements) == 1:
        return placements[0].offer
    return None


def values_for(recipient: Recipient, sender: User, company: str, sender_address: str) -> dict:
    """Placeholder values for one recipient."""
    return placeholders.context_for(recipient.candidate, recipient.offer, sender, company, sender_address)


def render_for(
    recipient: Recipient, subject: str, body: str, sender: User, company: str, sender_address: str
) -> tuple[placeholders.Rendered, placeholders.Rendered]:
    """(subject, body) as this recipient will read them."""
    values = values_for(recipient, sender, company, sender_address)
    return placeholders.render(subject, values), placeholders.render(body, values)


def problems(
    recipients: Recipients, subject: str, body: str, sender: User, company: str, sender_address: str
) -> list[Problem]:
    """The recipients whose subject or body has an unknown or unfilled placeholder."""
    return _problems(_render_all(recipients, subject, body, sender, company, sender_address))


def _render_all(
    recipients: Recipients, subject: str, body: str, sender: User, company: str, sender_address: str
):
    """[(recipient, (subject, body) rendered for them)] for every recipient with an address."""
    return [(r, render_for(r, subject, body, sender, company, sender_address)) for r in recipients.ready]


def _problems(rendered_all) -> list[Problem]:
    """The recipients of `rendered_all` with an unknown or unfilled placeholder."""
    found = []
    for recipient, rendered in rendered_all:
        unknown = list(dict.fromkeys(rendered[0].unknown + rendered[1].unknown))
        unfilled = list(dict.fromkeys(rendered[0].unfilled + rendered[1].unfilled))
        if unknown or unfilled:
            offer = recipient.offer
            pool = offer if offer is not None and not offer.is_job and _names_job(unfilled) else None
            found.append(Problem(recipient.candidate, unknown, unfilled, pool))
    return found


def _names_job(unfilled: list[str]) -> bool:
    """Whether `[job.title]` (without a fallback) is among the unfilled placeholders."""
    return any(p.startswith("[job.title") for p in unfilled)


def confirmation_key(recipients: Recipients, subject: str, body: str, send_at: datetime | None) -> str:
    """What the user confirms (who, what, when), as a short digest: a change asks again."""
    who = ",".join(str(r.candidate.id) for r in recipients.ready)
    when = send_at.isoformat(timespec="minutes") if send_at else "now"
    digest = hashlib.sha256("\x00".join((who, subject, body, when)).encode())
    return digest.hexdigest()[:32]


def check(user: User, recipients: Recipients, subject: str, body: str, settings: MailDomain, company: str):
    """Every message rendered, [(recipient, (subject, body))]; raises BulkError if any cannot go."""
    reasons: list[str] = []
    if not recipients.ready:
        reasons.append(N_("No recipient with an email address: choose an offer or candidates."))
    if len(recipients.ready) > MAX_RECIPIENTS:
        reasons.append(N_("At most %(n)s recipients per bulk email.", n=MAX_RECIPIENTS))
    if not compose.clean_line(subject):
        reasons.append(N_("Add a subject."))
    sender_address = user.inbound_address(settings.domain)
    rendered_all = _render_all(recipients, subject, body, user, company, sender_address)
    failing = _problems(rendered_all)
    if reasons or failing:
        raise BulkError(reasons, failing)
    return rendered_all


def create(
    user: User,
    recipients: Recipients,
    subject: str,
    body: str,
    template_id: int | None,
    settings: MailDomain,
    store: BlobStore,
    company: str,
    send_at: datetime | None = None,
) -> tuple[BulkSend, list[int]]:
    """Store the bulk and one message per recipient, queued or scheduled at `send_at`; raises
    BulkError. Flushes.

    Returns the bulk and its message ids, to enqueue after the commit.
    """
    # Rendered once: checked for problems, then sent as they are.
    rendered_all = check(user, recipients, subject, body, settings, company)
    bulk = BulkSend(
        user_id=user.id,
        template_id=template_id,
        subject=compose.clean_line(subject),
        total=len(recipients.ready),
    )
    db.session.add(bulk)
    db.session.flush()
    ids = []
    for recipient, (rendered_subject, rendered_body) in rendered_all:
        data = Compose(
            to=[recipient.address],
            subject=rendered_subject.text,
            body=rendered_body.text,
            bulk_id=bulk.id,
            send_at=send_at,
        )
        try:
            msg = compose.create(user, data, settings, store)
        except compose.ComposeError as exc:
            name = recipient.candidate.full_name or recipient.address
            problems = [m for ms in exc.errors.values() for m in ms]
            raise BulkError([N_("%(name)s: %(problem)s", name=name, problem=m) for m in problems]) from exc
        if recipient.offer is not None:
            # The conversation is about the job it was sent for, even if the candidate is on others.
            msg.thread.offer_id = recipient.offer.id
        ids.append(msg.id)
    db.session.flush()
    return bulk, ids


def visible_bulk(user: User, bulk_id: int) -> BulkSend | None:
    """The bulk if the user sent it or is an admin; else None."""
    bulk = db.session.get(BulkSend, bulk_id)
    if bulk is None or (bulk.user_id != user.id and not user.is_admin):
        return None
    return bulk


@dataclass
class Progress:
    bulk: BulkSend
    messages: list[Message]
    counts: dict[Status, int]

    @property
    def is_done(self) -> bool:
        """Nothing is left waiting to be sent (queued, scheduled or sending)."""
        return not any(m.status in PENDING_STATUSES for m in self.messages)

    @property
    def scheduled_at(self) -> datetime | None:
        """When the messages still scheduled leave (the earliest), or None if none waits for a time."""
        times = [m.scheduled_at for m in self.messages if m.status == Status.SCHEDULED and m.scheduled_at]
        return min(times) if times else None

    @property
    def is_waiting_for_time(self) -> bool:
        """Everything still pending waits for its time: nothing to poll for until then."""
        pending = [m for m in self.messages if m.status in PENDING_STATUSES]
        return bool(pending) and all(m.status == Status.SCHEDULED for m in pending)


def progress(bulk: BulkSend) -> Progress:
    """The bulk's messages with their status, and counts by status."""
    messages = list(
        db.session.scalars(select(Message).where(Message.bulk_id == bulk.id).order_by(Message.id)).unique()
    )
    counts = dict.fromkeys(BULK_COUNTED, 0)
    for msg in messages:
        key = Status(msg.status)
        counts[key] = counts.get(key, 0) + 1
    return Progress(bulk, messages, counts)


def cancel_scheduled(bulk: BulkSend, user: User) -> int:
    """Cancel the bulk's messages still waiting for their time (the sender's own); how many.

    One compare-and-set UPDATE: a message a worker already claimed (sending) is not touched, and
    the drain never claims a cancelled one, so each message is either sent once or not at all.
    """
    result = execute_dml(
        update(Message)
        .where(Message.bulk_id == bulk.id, Message.sender_id == user.id, Message.status == Status.SCHEDULED)
        .values(status=Status.CANCELLED)
        .returning(Message.thread_id)
    )
    thread_ids = list(result.scalars())
    entries.refresh(thread_ids)
    return len(thread_ids)


def recent(user: User, limit: int = 5) -> list[BulkSend]:
    """The user's latest bulk emails, newest first."""
    return list(
        db.session.scalars(
            select(BulkSend).where(BulkSend.user_id == user.id).order_by(BulkSend.id.desc()).limit(limit)
        )
    )
