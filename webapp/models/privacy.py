"""Data protection: CV links shared outside the team (and who opened them), and team settings."""

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.models.types import UTCDateTime, utcnow


class CvShare(Model):
    """A link to a candidate's CV for someone outside the team, until it expires or is revoked.

    Only the SHA-256 of the token is kept: the link is shown once, when it is made, and a
    copy of the database opens nothing.
    """

    __tablename__ = "cv_shares"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who it is for ("Hiring manager at Acme"), as the creator wrote it; may be empty.
    name: Mapped[str] = mapped_column(String(120), default="")
    # What the link shows besides the CV: "profile", "messages".
    sections: Mapped[list] = mapped_column(JSON, default=list)
    # The documents (attachment ids of the candidate's files) the link serves.
    file_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_by = relationship("User", lazy="joined")
    views = relationship(
        "CvShareView", order_by="CvShareView.id.desc()", lazy="selectin", cascade="all, delete-orphan"
    )

    def is_open(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at

    @property
    def is_live(self) -> bool:
        """Opens now: neither revoked nor expired."""
        return self.is_open(utcnow())


class CvShareView(Model):
    """One opening of a shared CV link: when, and from which address."""

    __tablename__ = "cv_share_views"

    id: Mapped[int] = mapped_column(primary_key=True)
    share_id: Mapped[int] = mapped_column(ForeignKey("cv_shares.id", ondelete="CASCADE"), index=True)
    viewed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ip: Mapped[str] = mapped_column(String(45), default="")
    what: Mapped[str] = mapped_column(String(20), default="page")


class Setting(Model):
    """A team-wide setting an admin changes in the app (not the environment): name -> JSON value."""

    __tablename__ = "settings"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
