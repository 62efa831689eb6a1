"""Conversations, messages, attachments, and per-user read state."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.models.types import UTCDateTime, utcnow


class Direction(StrEnum):
    """Which way a message travelled."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


# Inbound mail not classified yet, as SQL with literals (a partial index's predicate).
UNCLASSIFIED_INBOUND = f"outcome IS NULL AND direction = '{Direction.INBOUND.value}'"


class Status(StrEnum):
    """Where a message is in its life.

    Outbound: draft -> queued (send now) or scheduled -> sending -> sent | failed | unknown (a
    worker died after handing it to the server: a person decides), or cancelled. Inbound:
    received, or quarantined (it broke a parsing limit).
    """

    DRAFT = "draft"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    UNKNOWN = "unknown"
    CANCELLED = "cancelled"
    RECEIVED = "received"
    QUARANTINED = "quarantined"


# Waiting to leave: a worker will send it, or is sending it.
PENDING_STATUSES = (Status.QUEUED, Status.SCHEDULED, Status.SENDING)
# Sent shows queued and sending mail at once (with its state); "unknown" waits for a person.
SENT_FOLDER_STATUSES = (Status.QUEUED, Status.SENDING, Status.SENT, Status.FAILED, Status.UNKNOWN)
# Messages that have really travelled, as opposed to drafts and mail still waiting to leave.
DELIVERED_STATUSES = (Status.SENT, Status.FAILED, Status.RECEIVED)
# Seen by their author only: not sent yet, or sent with an outcome only they can settle.
AUTHOR_ONLY_STATUSES = (Status.DRAFT, *PENDING_STATUSES, Status.UNKNOWN)


class Outcome(StrEnum):
    """What the classifier decided about an inbound message (shown as "why is this here?")."""

    DUPLICATE = "duplicate"
    BOUNCE = "bounce"
    AUTO_REPLY = "auto_reply"
    REPLY = "reply"
    INCOMING_CV = "incoming_cv"
    CANDIDATE = "candidate"
    INTERNAL = "internal"
    NON_CANDIDATE = "non_candidate"
    QUARANTINED = "quarantined"


class SenderAuth(StrEnum):
    """Whether the receiving server authenticated the sender's domain (SPF, DKIM, DMARC)."""

    PASS = "pass"
    FAIL = "fail"  # an explicit failure: likely forged
    NONE = "none"  # no result from a server we trust: unverified
    # No server is trusted (INBOUND_AUTHSERV_IDS unset): nothing can be judged, so nothing is
    # warned about; such mail is still never internal (only PASS is), and mail in a team
    # member's name counts as NONE (classify.MailFacts.claim_auth).
    UNKNOWN = "unknown"


class DeliveryState(StrEnum):
    """What bounces said of an outbound message after it left."""

    DELAYED = "delayed"
    BOUNCED = "bounced"


def check_in(column: str, enum: type[StrEnum]) -> str:
    """The SQL condition "`column` holds one of `enum`'s values" (for CHECK constraints)."""
    values = ", ".join(f"'{member.value}'" for member in enum)
    return f"{column} IN ({values})"


class Thread(Model):
    """A conversation: messages joined by In-Reply-To, References or the reply token."""

    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_activity", "last_message_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(998), default="")
    # The candidate and the job the conversation is about, when known.
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    is_archived: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    archived_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    candidate = relationship("Candidate", lazy="joined")
    offer = relationship("Offer", lazy="joined")
    messages = relationship("Message", back_populates="thread", order_by="Message.sort_at")

    def touch(self, at: datetime) -> None:
        """Move the conversation's activity time forward to `at`."""
        if self.last_message_at is None or at > self.last_message_at:
            self.last_message_at = at


class Message(Model):
    """One email, inbound or outbound; raw bytes: the blob store (received) or SentCopy (sent)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_thread_sort", "thread_id", "sort_at"),
        Index("ix_messages_sender_status", "sender_id", "status"),
        Index("ix_messages_cv", "cv_offer_id", "cv_processed_at"),
        # What is left to classify, without reading the outbound mail (its outcome is NULL
        # too): the drains' claims run for every few messages a burst brings. The queries
        # spell the predicate with literals (UNCLASSIFIED_INBOUND), or no planner can use it;
        # direction first (an equality), so SQLite, which has no statistics, prefers it to
        # ix_messages_outcome.
        Index(
            "ix_messages_unclassified",
            "direction",
            "classify_claimed_at",
            "id",
            sqlite_where=text(UNCLASSIFIED_INBOUND),
            postgresql_where=text(UNCLASSIFIED_INBOUND),
        ),
        # Named by the convention in webapp/extensions.py: ck_messages_<name>.
        CheckConstraint(check_in("direction", Direction), name="direction"),
        CheckConstraint(check_in("status", Status), name="status"),
        CheckConstraint(f"outcome IS NULL OR {check_in('outcome', Outcome)}", name="outcome"),
        CheckConstraint(
            f"delivery_state IS NULL OR {check_in('delivery_state', DeliveryState)}",
            name="delivery_state",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), index=True)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str] = mapped_column(String(254), default="", index=True)
    from_name: Mapped[str] = mapped_column(String(200), default="")
    to_addresses: Mapped[list] = mapped_column(JSON, default=list)
    cc_addresses: Mapped[list] = mapped_column(JSON, default=list)
    bcc_addresses: Mapped[list] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    snippet: Mapped[str] = mapped_column(String(300), default="")
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    raw_sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    raw_size: Mapped[int] = mapped_column(BigInteger, default=0)
    has_attachments: Mapped[bool] = mapped_column(default=False)

    # Who the message is with: a candidate, or nobody known (non-candidate).
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="SET NULL"), index=True
    )
    # The team member who wrote it (outbound) or who sent it from inside (internal).
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_internal: Mapped[bool] = mapped_column(default=False)
    # Moved to a candidate by a conversion, or an answer joining a conversation with no candidate:
    # the people who took part (sender, recipients) keep seeing it whoever may see the candidate.
    shown_to_participants: Mapped[bool] = mapped_column(default=False, server_default=false())
    # What the receiving server's Authentication-Results said of the sender (SenderAuth); NULL:
    # not checked (outbound, older mail, an admin's import).
    sender_auth: Mapped[str | None] = mapped_column(String(8))
    is_auto_reply: Mapped[bool] = mapped_column(default=False)
    # Incoming CVs: sent to a job's CV address (cv_offer_id) or the company CV inbox.
    is_cv: Mapped[bool] = mapped_column(default=False)
    cv_offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id", ondelete="SET NULL"))
    cv_processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Outbound mail that carries a candidate's data it was not addressed to (a forward, their CV
    # attached): what it carries ("cv", "mail", "offer_cv"), so an edit asks before it leaves the team.
    carries: Mapped[str | None] = mapped_column(String(8))

    # How it arrived (smtp, webhook, import, compose, demo) and the SMTP envelope, if any.
    source: Mapped[str | None] = mapped_column(String(16))
    envelope_from: Mapped[str | None] = mapped_column(String(998))
    envelope_to: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # Why the classifier put it where it is (shown as "why is this here?"); NULL = not yet
    # classified, which the periodic sweep picks up.
    outcome: Mapped[str | None] = mapped_column(String(20), index=True)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    classified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a classify drain claimed it (NULL: nobody yet). A claim older than the drain's bound
    # was lost (its worker died): the message is claimed again, counted in classify_requeues.
    classify_claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Times it was claimed again after a lost claim (its worker died while classifying): a
    # message that keeps killing its worker is quarantined after a few, not retried forever.
    classify_requeues: Mapped[int] = mapped_column(default=0, server_default="0")
    # Parser defects and broken limits, kept for the quarantine view.
    defects: Mapped[list] = mapped_column(JSON, default=list, server_default="[]")
    # A bounce points at the outbound message it reports.
    # Indexed: deleting a message (erase, retention) finds the reports about it without a scan.
    bounced_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), index=True
    )
    # Outbound delivery news from bounces: None, "delayed" or "bounced".
    delivery_state: Mapped[str | None] = mapped_column(String(12))
    error: Mapped[str | None] = mapped_column(Text)
    # An out-of-office reply's return date ("away until"), when it names one.
    away_until: Mapped[date | None] = mapped_column(Date)
    send_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    send_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Scheduled mail held because the candidate replied after it was scheduled: the drain skips
    # it until its author confirms or edits it (compose.release, update_scheduled).
    held_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bulk_id: Mapped[int | None] = mapped_column(ForeignKey("bulk_sends.id", ondelete="SET NULL"), index=True)
    # A draft's origin (webapp/mail/outbound/drafts.py): the message it forwards, or the user's
    # scheduled message whose edit it keeps. Plain ids, no foreign key: they are looked up (and
    # checked) when the draft is opened, and one naming a message since gone is simply ignored.
    forward_of_id: Mapped[int | None] = mapped_column()
    revises_id: Mapped[int | None] = mapped_column()

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The date shown and sorted on: received, sent or due, whichever applies.
    sort_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    thread = relationship("Thread", back_populates="messages")
    candidate = relationship("Candidate", lazy="joined", foreign_keys=[candidate_id])
    sender = relationship("User", lazy="joined")
    cv_offer = relationship("Offer", lazy="joined")
    attachments = relationship(
        "Attachment", back_populates="message", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def is_inbound(self) -> bool:
        return self.direction == Direction.INBOUND

    @property
    def is_outbound(self) -> bool:
        return self.direction == Direction.OUTBOUND

    @property
    def is_from_mail_client(self) -> bool:
        """Sent by its author from their own mail client, found in their synced Sent folder."""
        return self.is_outbound and self.source == "mailbox"

    @property
    def is_on_its_way(self) -> bool:
        """Sent now and not yet handed to the server (queued or being sent)."""
        return self.status in (Status.QUEUED, Status.SENDING)

    @property
    def is_scheduled(self) -> bool:
        return self.status == Status.SCHEDULED

    @property
    def is_draft(self) -> bool:
        return self.status == Status.DRAFT

    @property
    def is_failed(self) -> bool:
        return self.status == Status.FAILED

    @property
    def is_outcome_unknown(self) -> bool:
        return self.status == Status.UNKNOWN

    @property
    def is_delayed(self) -> bool:
        """Sent, and a bounce said the receiving server is still trying."""
        return self.status == Status.SENT and self.delivery_state == DeliveryState.DELAYED

    @property
    def needs_attention(self) -> bool:
        """Waiting, failed, delayed or of unknown outcome: a long thread never folds it away."""
        return (
            self.is_scheduled
            or self.is_on_its_way
            or self.is_failed
            or self.is_outcome_unknown
            or self.is_delayed
        )

    @property
    def can_be_answered(self) -> bool:
        """It travelled (or may have) and a person wrote it: reply and forward make sense.

        Not a delivery report: answering would write to a mail daemon.
        """
        return self.status in (*DELIVERED_STATUSES, Status.UNKNOWN) and self.outcome != Outcome.BOUNCE

    @property
    def is_unauthenticated(self) -> bool:
        """Inbound mail that claims a team member's or a candidate's address, unverified."""
        return self.is_inbound and self.sender_auth in (SenderAuth.FAIL, SenderAuth.NONE)

    @property
    def shows_why(self) -> bool:
        """An inbound message the classifier has filed ("why is this here?")."""
        return self.is_inbound and self.outcome is not None

    @property
    def display_from(self) -> str:
        return self.from_name or self.from_address


class BounceRecipient(Model):
    """One recipient a delivery report says failed or is delayed (kept even when no sent message matched)."""

    __tablename__ = "bounce_recipients"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(254), index=True)
    status: Mapped[str | None] = mapped_column(String(16))  # enhanced status code, "5.1.1"
    kind: Mapped[str] = mapped_column(String(8))  # "hard", "soft" or "delay"
    diagnostic: Mapped[str] = mapped_column(Text, default="")
    reporting_mta: Mapped[str] = mapped_column(String(255), default="")


class Attachment(Model):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255), default="application/octet-stream")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    is_inline: Mapped[bool] = mapped_column(default=False)
    content_id: Mapped[str | None] = mapped_column(String(255))

    message = relationship("Message", back_populates="attachments")


class SentCopy(Model):
    """The exact bytes an outbound message left with (inbound raw mail lives in the blob store).

    Kept in the database: written with the batch that records the send, one statement for
    many messages, where a file per message cost a drain a third of its time.
    """

    __tablename__ = "sent_copies"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class MessageRecipient(Model):
    """A team member a message was addressed to (personal address, or a reply address)."""

    __tablename__ = "message_recipients"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class MessageRead(Model):
    """Per-user read state: a row means the user has read the message."""

    __tablename__ = "message_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Template(Model):
    """A reusable subject and body with placeholders; personal (owner) or shared (no owner)."""

    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    subject: Mapped[str] = mapped_column(String(998), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_shared(self) -> bool:
        return self.owner_id is None


class BulkSend(Model):
    """One template sent to many candidates, each in a separate message and conversation."""

    __tablename__ = "bulk_sends"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    template_id: Mapped[int | None] = mapped_column(ForeignKey("templates.id", ondelete="SET NULL"))
    subject: Mapped[str] = mapped_column(String(998), default="")
    total: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
