"""Offers (jobs and talent pools), who may access them, and who follows them."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.extensions import Model
from webapp.models.types import UTCDateTime, utcnow

OFFER_KINDS = ("job", "pool")


class Offer(Model):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), default="job")
    title: Mapped[str] = mapped_column(String(200))
    # Also the CV address of a job: cv+<slug>@INBOUND_DOMAIN.
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    is_open: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    # The hiring team; loaded when asked for (an offer shows on every row and pane).
    team = relationship("User", secondary="offer_access", viewonly=True)

    @property
    def is_job(self) -> bool:
        return self.kind == "job"

    def cv_address(self, domain: str) -> str | None:
        return f"cv+{self.slug}@{domain}" if self.is_job else None

    def __repr__(self) -> str:
        return f"<Offer {self.slug}>"


class OfferAccess(Model):
    """A user on an offer's hiring team."""

    __tablename__ = "offer_access"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    offer_id: Mapped[int] = mapped_column(
        ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class OfferFollow(Model):
    __tablename__ = "offer_follows"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    offer_id: Mapped[int] = mapped_column(
        ForeignKey("offers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
