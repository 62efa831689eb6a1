"""Inbound classification: each stored message ends in exactly one outcome, with its reason.

The order matters (docs/architecture.md, flow 3): duplicate (same bytes, or the Message-ID of
mail synced from a user's mailbox), bounce, auto-reply, reply, incoming CV, candidate, internal,
non-candidate; anything that cannot be parsed safely is quarantined.
`decide` only reads the database (so `mail import --dry-run` can use it); `filing` writes.
"""

import contextlib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import BindParameter, ColumnElement, Row, bindparam, func, or_, select

from webapp.extensions import db
from webapp.mail.addresses import Target, resolve
from webapp.mail.domain import MailDomain
from webapp.mail.inbound.authresults import sender_auth
from webapp.mail.inbound.autoreply import auto_reply_reason
from webapp.mail.inbound.away import away_until
from webapp.mail.inbound.bounce import BounceReport, parse_bounce
from webapp.mail.inbound.parse import ParsedMail
from webapp.models import (
    CandidateEmail,
    Direction,
    Message,
    Offer,
    Outcome,
    Placement,
    SenderAuth,
    Thread,
    User,
)
from webapp.models.core import InList, table_of
from webapp.models.types import utcnow

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# The look-ups below run for every inbound message: built once, with bound parameters, over
# the tables (Core rows, not ORM objects: nothing here changes them, and loading entities cost
# more than the queries themselves).
_messages, _threads, _users = table_of(Message), table_of(Thread), table_of(User)
_candidate_emails, _placements, _offers = table_of(CandidateEmail), table_of(Placement), table_of(Offer)
_THREAD_COLUMNS = (
    _threads.c.id,
    _threads.c.candidate_id,
    _threads.c.is_archived,
    _threads.c.last_message_at,
    _threads.c.offer_id,
)
_THREAD = select(*_THREAD_COLUMNS).where(_threads.c.id == bindparam("thread_id"))
_CANDIDATE_ID = select(_candidate_emails.c.candidate_id).where(
    _candidate_emails.c.email == bindparam("email")
)
# Team members by login email (lower-cased) or personal inbound address: one message's
# sender and recipients, or a drain group's all at once.
_TEAM_MEMBERS = (
    select(
        _users.c.id, _users.c.email, _users.c.inbound_local, func.lower(_users.c.email).label("email_lower")
    )
    .where(
        or_(
            InList(func.lower(_users.c.email), "senders"),
            InList(_users.c.inbound_local, "locals"),
        )
    )
    .order_by(_users.c.id)
)
# The conversation of the latest message referenced, with that message's direction: _THREAD's
# columns in the same statement (one round trip a reply, not two).
_THREAD_BY_REFERENCES = (
    select(*_THREAD_COLUMNS, _messages.c.direction)
    .join_from(_messages, _threads, _threads.c.id == _messages.c.thread_id)
    .where(InList(_messages.c.message_id, "ids"))
    .order_by(_messages.c.id.desc())
    .limit(1)
)
_THREAD_WRITERS = (
    select(_messages.c.sender_id)
    .where(_messages.c.thread_id == bindparam("thread_id"), _messages.c.sender_id.is_not(None))
    .distinct()
)
_OFFERS_OF = (
    select(_placements.c.offer_id).where(_placements.c.candidate_id == bindparam("candidate_id")).limit(2)
)
# A candidate's conversation with the latest activity.
_LATEST_THREAD_OF = (
    select(_threads.c.id)
    .where(_threads.c.candidate_id == bindparam("candidate_id"))
    .order_by(_threads.c.last_message_at.desc(), _threads.c.id.desc())
    .limit(1)
)
_JOB_BY_SLUG = select(_offers.c.id, _offers.c.title).where(
    _offers.c.slug == bindparam("slug"), _offers.c.kind == "job"
)
# What a bounce needs of the sent message it reports.
_OUTBOUND_COLUMNS = (
    _messages.c.id,
    _messages.c.thread_id,
    _messages.c.candidate_id,
    _messages.c.status,
    _messages.c.delivery_state,
    _messages.c.cv_offer_id,
)
_OUTBOUND_BY_ID = select(*_OUTBOUND_COLUMNS).where(
    _messages.c.id == bindparam("id"), _messages.c.direction == Direction.OUTBOUND
)
_OUTBOUND_BY_MESSAGE_ID = (
    select(*_OUTBOUND_COLUMNS)
    .where(_messages.c.message_id == bindparam("mid"), _messages.c.direction == Direction.OUTBOUND)
    .order_by(_messages.c.id.desc())
    .limit(1)
)


def _original(table) -> ColumnElement[bool]:
    """A message of `table` that stands as the original of its mail: unclassified, or not a duplicate."""
    return or_(table.c.outcome.is_(None), table.c.outcome != Outcome.DUPLICATE)


# Whether another message (not itself a duplicate) has the same bytes: a correlated column
# for the query that loads a stored message, so that most messages skip the duplicate look-up.
# Another, not only an earlier one: ids are handed out before the listener's commits, so the
# copy with the lower id may become visible after this one was read (_duplicate_query).
_other = _messages.alias("other")
OTHER_COPY = (
    select(_other.c.id)
    .where(
        _other.c.raw_sha256 == _messages.c.raw_sha256,
        _other.c.id != _messages.c.id,
        _original(_other),
    )
    .limit(1)
    .correlate(_messages)
    .scalar_subquery()
    .label("other_copy_id")
)


@dataclass
class Decision:
    """Where a message goes, and why."""

    outcome: Outcome
    reason: str
    thread: Row | None = None  # an existing conversation (_THREAD's columns); None: a new one or none
    new_thread: bool = False
    candidate_id: int | None = None
    offer_id: int | None = None
    recipient_user_ids: list[int] = field(default_factory=list)
    sender_user_id: int | None = None
    is_internal: bool = False
    shown_to_participants: bool = False
    is_note: bool = False
    is_cv: bool = False
    cv_offer_id: int | None = None
    bounced: Row | None = None  # the sent message a verified bounce reports (_OUTBOUND_COLUMNS)
    bounce: BounceReport | None = None
    # For mail whose From claims a team member's or a candidate's address: whether the
    # receiving server authenticated it (None: nothing claimed, or an admin's import).
    sender_auth: SenderAuth | None = None
    away_until: date | None = None  # the return date an out-of-office reply names


def recipient_addresses(parsed: ParsedMail, envelope_to) -> list[str]:
    """Everyone the message was delivered to: the envelope first, then the headers."""
    found = [a.lower() for a in envelope_to or []]
    msg = parsed.email
    for name in ("Delivered-To", "X-Original-To"):
        with contextlib.suppress(Exception):  # a malformed header must not stop classification
            found += [str(v).strip().strip("<>").lower() for v in (msg.get_all(name) or [])] if msg else []
    found += parsed.to + parsed.cc
    return list(dict.fromkeys(a for a in found if "@" in a))


def _targets(addresses: list[str], settings: MailDomain) -> list[Target]:
    return [t for t in (resolve(a, settings.domain, settings.secret) for a in addresses) if t]


def _team_wanted(
    sender: str, targets: list[Target], settings: MailDomain
) -> tuple[Target | None, list, list]:
    """The sender's own inbound address (if ours), the personal ones it went to, and all to look up."""
    addressed = [t.value for t in targets if t.kind == "user"]
    own = resolve(sender, settings.domain, settings.secret) if sender else None
    return own, addressed, addressed + ([own.value] if own and own.kind == "user" else [])


def _team_rows(senders: list[str], locals_: list) -> list[Row]:
    """Team members by these login emails (lower-cased) or personal inbound addresses."""
    return list(db.session.execute(_TEAM_MEMBERS, {"senders": senders, "locals": locals_}))


def _team_members(
    sender: str, targets: list[Target], settings: MailDomain, known: "GroupLookups | None" = None
) -> tuple[Row | None, list[int]]:
    """The team member who sent the message, and the ids of those it is addressed to (one query).

    The sender is the user whose login email is `sender`, else whose personal inbound address
    it is; the addressed users are those whose personal addresses are among `targets`.
    `known`: the group's team members, looked up at once (no query).
    """
    sender = sender.lower()
    own, addressed, wanted = _team_wanted(sender, targets, settings)
    if not sender and not wanted:
        return None, []
    team = known.team if known is not None else _team_rows([sender] if sender else [], wanted)
    rows = [u for u in team if (sender and u.email_lower == sender) or u.inbound_local in wanted]
    sender_user = next((u for u in rows if sender and u.email_lower == sender), None)
    if sender_user is None and own and own.kind == "user":
        sender_user = next((u for u in rows if u.inbound_local == own.value), None)
    return sender_user, [u.id for u in rows if u.inbound_local in addressed]


def _thread(thread_id: int | None) -> Row | None:
    """The conversation by id: what classifying and filing a message into it need."""
    if thread_id is None:
        return None
    return db.session.execute(_THREAD, {"thread_id": thread_id}).first()


def _candidate_id(address: str) -> int | None:
    return db.session.scalar(_CANDIDATE_ID, {"email": address.lower()})


def _referenced_ids(parsed: ParsedMail) -> list[str]:
    ids = _MESSAGE_ID.findall(parsed.in_reply_to or "") + _MESSAGE_ID.findall(parsed.references or "")
    return list(dict.fromkeys(ids))[-50:]  # a hostile References header can be huge


def find_thread(parsed: ParsedMail, targets: list[Target]) -> tuple[Row | None, str, bool]:
    """The known conversation this message answers: (thread, how it matched, answers our mail)."""
    for target in targets:
        if target.kind == "reply" and isinstance(target.value, int):  # a reply address names a thread id
            thread = _thread(target.value)
            if thread is not None:
                return thread, "its reply address names the conversation", True
    # Our signed return path: what answers the envelope sender (RFC 3834 asks automatic replies
    # to, and challenge-response systems do) names the message it answers.
    sent = _sent_to_return_path(targets)
    thread = _thread(sent.thread_id) if sent is not None else None
    if thread is not None:
        return thread, "its VERP return path names the message", True
    ids = _referenced_ids(parsed)
    if ids:
        found = db.session.execute(_THREAD_BY_REFERENCES, {"ids": ids}).first()
        if found:
            return found, "In-Reply-To/References match", found.direction == Direction.OUTBOUND
    return None, "", False


def _thread_writers(thread: Row) -> list[int]:
    """Team members who wrote in the conversation (they see its replies in their Inbox)."""
    return list(db.session.scalars(_THREAD_WRITERS, {"thread_id": thread.id}))


def _sent_to_return_path(targets: list[Target]) -> Row | None:
    """The sent message whose signed return path (VERP) the mail came to, if any."""
    for target in targets:
        if target.kind == "bounce":
            msg = db.session.execute(_OUTBOUND_BY_ID, {"id": target.value}).first()
            if msg is not None:
                return msg
    return None


def _bounced_message(report: BounceReport, targets: list[Target]) -> tuple[Row | None, str, bool]:
    """The sent message a report is about, how it matched, and whether that match is verified.

    Only a report sent back to the message's signed VERP address is verified: anyone can quote
    a Message-ID they have seen (a forged report would fail the message and show its text), so a
    report matched that way only joins the conversation, unverified, and changes nothing.
    """
    msg = _sent_to_return_path(targets)
    if msg is not None:
        return msg, "its VERP return path names the message", True
    if report.original_message_id:
        msg = db.session.execute(_OUTBOUND_BY_MESSAGE_ID, {"mid": report.original_message_id}).first()
        if msg is not None:
            how = "unverified: it only quotes the message's Message-ID, it did not come to its signed address"
            return msg, how, False
    return None, "no sent message matched", False


@functools.cache
def _duplicate_query(has_message_id: bool, has_own_id: bool):
    """The copy that stands, of this message's bytes (and Message-ID, when there is one).

    Of copies classified at the same time, the one with the lowest id stands. A copy with a
    higher id already filed as the original stands too: it could not see this one (a listener
    commits its ids out of order), and the same mail must not be filed twice.
    """
    original = _original(_messages)
    query = select(_messages.c.id).where(_messages.c.raw_sha256 == bindparam("sha"))
    if has_message_id:
        query = query.where(_messages.c.message_id == bindparam("mid"))
    if has_own_id:
        own: BindParameter[int] = bindparam("own_id")
        filed_later = (_messages.c.id > own) & _messages.c.outcome.is_not(None)
        query = query.where(original, or_(_messages.c.id < own, filed_later))
    else:
        query = query.where(original)
    return query.order_by(_messages.c.id).limit(1)


def _single_offer(candidate_id: int | None, known: "GroupLookups | None" = None) -> int | None:
    """The candidate's job when they are placed on exactly one."""
    if candidate_id is None:
        return None
    if known is not None and candidate_id in known.offers:
        offers = known.offers[candidate_id]
    else:
        offers = list(db.session.scalars(_OFFERS_OF, {"candidate_id": candidate_id}))
    return offers[0] if len(offers) == 1 else None


@dataclass
class MailFacts:
    """What the rules know of one message: each fact looked up once, when a rule first asks for it.

    So a rule that takes the message early (a duplicate, a bounce) spares the look-ups of the rest.
    """

    parsed: ParsedMail
    sha256: str
    envelope_to: Iterable[str] | None
    settings: MailDomain
    own_id: int | None
    may_be_duplicate: bool
    source: str | None = None
    known: "GroupLookups | None" = None  # looked up for a drain's group at once

    @property
    def sender(self) -> str:
        return self.parsed.from_address

    @functools.cached_property
    def sender_auth(self) -> SenderAuth | None:
        """Whether a server we trust authenticated the From domain; None for an admin's import.

        An import is mail an admin chose to load (an archive): they vouch for it, and its old
        Authentication-Results were written by servers we cannot judge (docs/folders.md).
        """
        if self.source == "import":
            return None
        return sender_auth(self.parsed.email, self.sender, self.settings.authserv_ids)

    @property
    def authenticated(self) -> bool:
        return self.sender_auth in (None, SenderAuth.PASS)

    @functools.cached_property
    def targets(self) -> list[Target]:
        """What our addresses among the recipients point at."""
        return _targets(recipient_addresses(self.parsed, self.envelope_to), self.settings)

    @functools.cached_property
    def _team(self) -> tuple[Row | None, list[int]]:
        return _team_members(self.sender, self.targets, self.settings, self.known)

    @property
    def claimed_user(self) -> Row | None:
        """The team member whose address is in From (anyone can write it)."""
        return self._team[0]

    @property
    def sender_user(self) -> Row | None:
        """The team member who sent the message, if one did: their address, authenticated.

        Unauthenticated mail in a team member's name is never internal: it is filed as an
        outsider's (with a warning), so a forged From cannot hide mail from the team.
        """
        return self._team[0] if self.authenticated else None

    def claim_auth(self) -> SenderAuth | None:
        """The authentication verdict, for mail that claims a team member or a candidate."""
        if self.claimed_user is None and self.candidate_id is None:
            return None
        if self.sender_auth == SenderAuth.UNKNOWN and self.claimed_user is not None:
            # Filed as an outsider's although it names a colleague: the warning says why.
            return SenderAuth.NONE
        return self.sender_auth

    @property
    def addressed(self) -> list[int]:
        """The ids of the team members whose personal addresses received the message."""
        return self._team[1]

    @functools.cached_property
    def candidate_id(self) -> int | None:
        """The candidate whose address sent the message."""
        if not self.sender:
            return None
        if self.known is not None and self.sender.lower() in self.known.candidates:
            return self.known.candidates[self.sender.lower()]
        return _candidate_id(self.sender)

    @functools.cached_property
    def answered(self) -> tuple[Row | None, str, bool]:
        """The known conversation the message answers, as find_thread gives it."""
        return find_thread(self.parsed, self.targets)


def _duplicate(mail: MailFacts) -> Decision | None:
    """Mail we already have (the same bytes and Message-ID): counted, filed in no folder.

    First of all: a retried delivery or an overlapping import must not file a message twice.
    """
    parsed = mail.parsed
    if not mail.may_be_duplicate or not (parsed.message_id or mail.sha256):
        return None
    query = _duplicate_query(bool(parsed.message_id), mail.own_id is not None)
    original = db.session.scalar(query, {"sha": mail.sha256, "mid": parsed.message_id, "own_id": mail.own_id})
    if original is None:
        return None
    return Decision(Outcome.DUPLICATE, f"same Message-ID and content as message #{original}")


# A message synced from a mailbox that stands as the original of its mail.
_SYNCED_ORIGINAL = (_messages.c.source == "mailbox", _original(_messages))
_SYNCED_COPY = (
    select(_messages.c.id)
    .where(
        _messages.c.message_id == bindparam("mid"), _messages.c.id != bindparam("own_id"), *_SYNCED_ORIGINAL
    )
    .limit(1)
)


def _synced_already(mail: MailFacts) -> Decision | None:
    """Mail with the Message-ID of one synced from a user's own mailbox: the same mail, come twice.

    Right after the byte-for-byte duplicate: a reply sent both to a recruiter's mailbox and to
    our inbound address reaches us twice with different bytes (each server adds its own
    headers). A sync skips what is already here; what comes in after it is this duplicate.
    """
    if not mail.parsed.message_id or mail.own_id is None:
        return None
    if mail.known is not None and mail.parsed.message_id not in mail.known.synced:
        return None  # the group's look-up found no synced copy with this Message-ID
    original = db.session.scalar(_SYNCED_COPY, {"mid": mail.parsed.message_id, "own_id": mail.own_id})
    if original is None:
        return None
    return Decision(Outcome.DUPLICATE, f"same Message-ID as message #{original}, synced from a mailbox")


def _bounce(mail: MailFacts) -> Decision | None:
    """A delivery report: fails (or marks delayed) the sent message it reports.

    Before auto-replies, which a report also looks like (Auto-Submitted). It joins the reported
    message's conversation as a note; a report on nothing we sent opens a conversation of its own.
    """
    report = parse_bounce(mail.parsed.email) if mail.parsed.email is not None else None
    if report is None:
        return None
    bounced, how, verified = _bounced_message(report, mail.targets)
    kind = "delivery delay" if report.is_delay else "delivery failure"
    if bounced is None:
        return Decision(Outcome.BOUNCE, f"{kind} report; {how}", new_thread=True, bounce=report)
    return Decision(
        Outcome.BOUNCE,
        f"{kind} report for message #{bounced.id}; {how}",
        thread=_thread(bounced.thread_id),
        is_note=True,
        bounced=bounced if verified else None,
        bounce=report,
        candidate_id=bounced.candidate_id,
        cv_offer_id=bounced.cv_offer_id,  # it may quote what the message carried: the same scope
    )


def _auto_reply(mail: MailFacts) -> Decision | None:
    """An out-of-office or other automatic reply: a note in the conversation it answers.

    Before replies, so that it never counts as a person's answer (notes are never unread). One
    that names no message of ours but comes from a candidate joins that candidate's latest
    conversation (the recruiter must learn the candidate is away); any other is kept in no folder.
    """
    reason = auto_reply_reason(mail.parsed.email) if mail.parsed.email is not None else None
    if not reason:
        return None
    back = _away_until(mail.parsed)
    thread, matched, _ = mail.answered
    if thread is None and mail.candidate_id is not None:
        thread = _thread(db.session.scalar(_LATEST_THREAD_OF, {"candidate_id": mail.candidate_id}))
        matched = "the candidate's latest conversation"
    if thread is None:
        return Decision(
            Outcome.AUTO_REPLY,
            f"{reason}; no conversation to attach it to",
            candidate_id=mail.candidate_id,
            away_until=back,
        )
    candidate_id = mail.candidate_id or thread.candidate_id
    return Decision(
        Outcome.AUTO_REPLY,
        f"{reason}; attached as a note ({matched})",
        thread=thread,
        is_note=True,
        candidate_id=candidate_id,
        cv_offer_id=_offer_scope(thread, candidate_id),
        away_until=back,
    )


def _offer_scope(thread: Row, candidate_id: int | None) -> int | None:
    """The offer whose CV a conversation with no candidate carries (a CV's own conversation, or a
    forward of one): mail joining it stays with that offer's team (access.visible)."""
    if candidate_id is not None or thread.candidate_id is not None:
        return None
    return thread.offer_id


def _away_until(parsed: ParsedMail) -> date | None:
    """The return date an out-of-office reply names, read in its subject, then its text."""
    today = utcnow().date()
    sent = parsed.date.date() if parsed.date is not None and parsed.date.date() <= today else today
    return away_until(f"{parsed.subject}\n{parsed.text or parsed.snippet}", sent)


def _reply(mail: MailFacts) -> Decision | None:
    """An answer in a known conversation (its reply address, In-Reply-To or References).

    Before the CV and sender rules: a conversation keeps its candidate and offer whoever writes
    in it (an outsider's answer to a forward of a candidate's mail stays in their scope). It
    reaches the team members it was sent to and, when it answers our mail, those who wrote in the
    conversation; from a team member it is internal (off the candidate's views).
    """
    thread, matched, answers_us = mail.answered
    if thread is None:
        return None
    sender_user = mail.sender_user
    sender_user_id = sender_user.id if sender_user else None
    is_internal = sender_user is not None
    recipients = mail.addressed + (_thread_writers(thread) if answers_us else [])
    candidate_id = None if is_internal else (mail.candidate_id or thread.candidate_id)
    return Decision(
        Outcome.REPLY,
        matched + (" (from a team member)" if is_internal else ""),
        thread=thread,
        candidate_id=candidate_id,
        cv_offer_id=None if is_internal else _offer_scope(thread, candidate_id),
        # A candidate answering a conversation that had none (a send to an address the sender
        # could not know was a candidate's): those it reaches keep it, like the rest of it.
        shown_to_participants=candidate_id is not None and thread.candidate_id is None,
        recipient_user_ids=[u for u in recipients if u != sender_user_id],
        sender_user_id=sender_user_id,
        is_internal=is_internal,
    )


def _incoming_cv(mail: MailFacts) -> Decision | None:
    """Mail to a job's CV address or the company CV inbox: an application to process.

    Before the sender rules: a CV from an agency, a colleague or a known candidate is still one.
    The first CV address decides; a job slug we do not know goes to the company CV inbox.
    """
    target = next((t for t in mail.targets if t.kind == "cv"), None)
    if target is None:
        return None
    offer = db.session.execute(_JOB_BY_SLUG, {"slug": target.value}).first() if target.value else None
    where = f"the CV address of {offer.title}" if offer else "the company CV inbox"
    return Decision(
        Outcome.INCOMING_CV,
        f"sent to {where}",
        new_thread=True,
        is_cv=True,
        cv_offer_id=offer.id if offer else None,
        offer_id=offer.id if offer else None,
    )


def _candidate(mail: MailFacts) -> Decision | None:
    """New mail from an address in the candidate database: in that candidate's scope.

    Before internal, so that it stays in the candidate's scope even when a team member's login
    uses the address too. The new conversation takes the candidate's offer if there is only one.
    """
    if mail.candidate_id is None:
        return None
    return Decision(
        Outcome.CANDIDATE,
        f"the sender {mail.sender} is a candidate's address",
        new_thread=True,
        candidate_id=mail.candidate_id,
        offer_id=_single_offer(mail.candidate_id, mail.known),
        recipient_user_ids=mail.addressed,
    )


def _internal(mail: MailFacts) -> Decision | None:
    """New mail from a team member (login email or personal address): seen by its people only.

    Before non-candidate, so that only its sender and recipients see it, not the whole team.
    """
    sender_user = mail.sender_user
    if sender_user is None:
        return None
    return Decision(
        Outcome.INTERNAL,
        f"the sender is team member {sender_user.email}",
        new_thread=True,
        recipient_user_ids=[u for u in mail.addressed if u != sender_user.id],
        sender_user_id=sender_user.id,
        is_internal=True,
    )


def _non_candidate(mail: MailFacts) -> Decision:
    """What no rule took: mail from outside the candidate database (team-wide Non-candidates)."""
    return Decision(
        Outcome.NON_CANDIDATE,
        f"the sender {mail.sender or '(none)'} is not in the candidate database",
        new_thread=True,
        recipient_user_ids=mail.addressed,
    )


# Tried in this order, the first rule that takes the message decides (each rule's docstring says
# why it comes where it does); what none takes is non-candidate mail. Quarantine (a message that
# cannot be parsed safely) is decided before any of them, in pipeline.classify_stored.
RULES = (_duplicate, _synced_already, _bounce, _auto_reply, _reply, _incoming_cv, _candidate, _internal)


def decide(
    parsed: ParsedMail,
    *,
    sha256: str,
    envelope_to,
    settings: MailDomain,
    own_id: int | None = None,
    may_be_duplicate: bool = True,
    source: str | None = None,
    known: "GroupLookups | None" = None,
) -> Decision:
    """The outcome for a parsed message, reading (never writing) the database.

    may_be_duplicate=False: the caller knows no other message has these bytes (OTHER_COPY).
    known: what a drain looked up for the message's group at once (`look_up_group`).
    """
    mail = MailFacts(parsed, sha256, envelope_to, settings, own_id, may_be_duplicate, source, known)
    decision = next((d for d in (rule(mail) for rule in RULES) if d is not None), None) or _non_candidate(
        mail
    )
    if decision.outcome != Outcome.DUPLICATE:
        decision.sender_auth = mail.claim_auth()
        if mail.claimed_user is not None and not mail.authenticated:
            decision.reason += (
                f"; From names team member {mail.claimed_user.email} but the receiving server did"
                f" not authenticate it ({mail.sender_auth}): not filed as internal"
            )
    return decision


# Looked up for a drain's group at once, before its first write: four queries for up to 25
# messages instead of up to four for each (each a round trip, and work for the server).
_CANDIDATES_OF_GROUP = select(_candidate_emails.c.email, _candidate_emails.c.candidate_id).where(
    InList(_candidate_emails.c.email, "emails")
)
_PLACEMENTS_OF_GROUP = select(_placements.c.candidate_id, _placements.c.offer_id).where(
    InList(_placements.c.candidate_id, "candidates")
)
_SYNCED_OF_GROUP = select(_messages.c.message_id).where(
    InList(_messages.c.message_id, "mids"), *_SYNCED_ORIGINAL
)


@dataclass(frozen=True)
class GroupLookups:
    """What `decide` would look up for each message of a group, looked up for all of them at once.

    Classifying changes none of what is looked up here (team members, candidates' addresses,
    placements): the answers hold for the whole group, as one question each would have held
    until the group's commit. A Message-ID with no synced copy needs no question; one with a
    copy is asked the exact question (not this message itself).
    """

    team: list[Row] = field(default_factory=list)  # _TEAM_MEMBERS's rows
    # Every sender asked, lowercased -> its candidate id, None for a sender who is none.
    candidates: dict[str, int | None] = field(default_factory=dict)
    offers: dict[int, list[int]] = field(default_factory=dict)  # candidate id -> the jobs they are on
    synced: frozenset[str] = frozenset()  # Message-IDs of the group that a mailbox sync stored


def look_up_group(mails: list[tuple[ParsedMail, Iterable[str] | None]], settings: MailDomain) -> GroupLookups:
    """GroupLookups for messages (parsed, envelope recipients) about to be classified together."""
    senders, locals_, mids = set(), set(), set()
    for parsed, envelope_to in mails:
        sender = (parsed.from_address or "").lower()
        targets = _targets(recipient_addresses(parsed, envelope_to), settings)
        _own, _addressed, wanted = _team_wanted(sender, targets, settings)
        if sender:
            senders.add(sender)
        locals_.update(wanted)
        if parsed.message_id:
            mids.add(parsed.message_id)
    team = _team_rows(sorted(senders), sorted(locals_)) if senders or locals_ else []
    candidates: dict[str, int | None] = dict.fromkeys(senders)
    if senders:
        found_rows = db.session.execute(_CANDIDATES_OF_GROUP, {"emails": sorted(senders)})
        candidates.update((email, candidate_id) for email, candidate_id in found_rows)
    found = sorted({c for c in candidates.values() if c is not None})
    offers: dict[int, list[int]] = {c: [] for c in found}
    if found:
        for candidate_id, offer_id in db.session.execute(_PLACEMENTS_OF_GROUP, {"candidates": found}):
            offers[candidate_id].append(offer_id)
    synced = frozenset(db.session.scalars(_SYNCED_OF_GROUP, {"mids": sorted(mids)})) if mids else frozenset()
    return GroupLookups(team, candidates, offers, synced)
