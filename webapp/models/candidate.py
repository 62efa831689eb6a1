"""Candidates, their addresses, their placements on offers, and who follows them."""

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.models.types import UTCDateTime, utcnow


class Candidate(Model):
    __tablename__ = "candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(120), default="")
    last_name: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The return date the candidate's latest out-of-office reply named, if any.
    away_until: Mapped[date | None] = mapped_column(Date)

    emails = relationship(
        "CandidateEmail", back_populates="candidate", lazy="selectin", cascade="all, delete-orphan"
    )
    placements = relationship(
        "Placement", back_populates="candidate", lazy="selectin", cascade="all, delete-orphan"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_away(self) -> bool:
        """An out-of-office reply said the candidate is back on a date still to come."""
        return self.away_until is not None and self.away_until >= date.today()

    @property
    def primary_email(self) -> str | None:
        return self.emails[0].email if self.emails else None

    def __repr__(self) -> str:
        return f"<Candidate {self.full_name}>"


class CandidateEmail(Model):
    """One address of a candidate; an address belongs to at most one candidate."""

    __tablename__ = "candidate_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    # Stored lower-cased so look-ups are exact matches on an index.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # Set by a hard bounce of our mail to it (when, and the server's reason); cleared by mail from it.
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_reason: Mapped[str | None] = mapped_column(Text)

    candidate = relationship("Candidate", back_populates="emails")


class Placement(Model):
    """A candidate placed on an offer, at a stage of its pipeline."""

    __tablename__ = "placements"
    __table_args__ = (UniqueConstraint("candidate_id", "offer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"))
    offer_id: Mapped[int] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(40), default="new")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    candidate = relationship("Candidate", back_populates="placements")
    offer = relationship("Offer", lazy="joined")


class CandidateFollow(Model):
    __tablename__ = "candidate_follows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CandidateFile(Model):
    """A document kept on a candidate's profile (a CV from incoming mail), by its attachment."""

    __tablename__ = "candidate_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), default="cv")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    attachment = relationship("Attachment", lazy="joined")
