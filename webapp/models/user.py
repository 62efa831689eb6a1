"""Team members."""

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.extensions import Model
from webapp.models.types import UTCDateTime, utcnow

ROLES = ("admin", "recruiter")


class User(UserMixin, Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="recruiter")
    # The local part of the personal inbound address: <inbound_local>@INBOUND_DOMAIN.
    inbound_local: Mapped[str] = mapped_column(String(64), unique=True)
    # The signature as plain text; when it has formatting (bold, italic, links), the cleaned
    # HTML too, whose plain twin `signature` is (webapp/mail/outbound/signature.py).
    signature: Mapped[str] = mapped_column(Text, default="")
    signature_html: Mapped[str | None] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str | None] = mapped_column(String(8))
    is_active_user: Mapped[bool] = mapped_column(default=True)
    # Named by every session and remember cookie (webapp/auth/sessions.py): moving it on ends them all.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_active(self) -> bool:
        return self.is_active_user

    def set_password(self, password: str) -> None:
        """Set a new password; every session and remember cookie of the user ends with the old one."""
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def end_sessions(self) -> None:
        """Sign the user out everywhere: sessions and remember cookies name the old version."""
        self.session_version = (self.session_version or 0) + 1

    def get_id(self) -> str:
        """What Flask-Login stores in the session and the remember cookie: the login's own id.

        webapp/auth/sessions.py sets it (`_login_id`) at sign-in and when it loads the user; a bare
        user id is never accepted back.
        """
        return getattr(self, "_login_id", None) or ""

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def signature_block(self) -> str:
        """The signature as a body ends with it ("-- " on its own line), or nothing."""
        return f"\n\n-- \n{self.signature}" if self.signature else ""  # as signature.block()

    def inbound_address(self, domain: str) -> str:
        return f"{self.inbound_local}@{domain}"

    def __repr__(self) -> str:
        return f"<User {self.email}>"
