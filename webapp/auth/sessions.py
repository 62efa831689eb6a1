"""Sessions a server can end: every login carries the user's session version and its own time.

Flask-Login keeps `User.get_id()` in the session and, signed, in the remember cookie. Ours is
`<user id>.<session version>.<signed-in at>.<nonce>`: the loader refuses it once the user's
version has moved on (logout, a new password: every session and remember cookie of the user
ends, copies included), once it is older than REMEMBER_COOKIE_DURATION (a remember cookie
expires on the server too, not only in the browser), and for an inactive user. The nonce makes
each login's remember cookie new.
"""

import secrets
import time

from flask import current_app, g, request, session
from flask_login import login_user, logout_user
from flask_login.config import COOKIE_NAME

from webapp.extensions import db
from webapp.models import User


def _max_age_s() -> float:
    return current_app.config["REMEMBER_COOKIE_DURATION"].total_seconds()


def _login_id(user: User) -> str:
    return f"{user.id}.{user.session_version}.{int(time.time())}.{secrets.token_urlsafe(8)}"


def parse_login(login_id: str) -> tuple[int, int] | None:
    """(user id, session version) of a login id that is well formed and not too old; no database.

    Whether the user still exists, is active and has that version is `load`'s to check.
    """
    parts = login_id.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    user_id, version, signed_in_at = (int(p) for p in parts[:3])
    if time.time() - signed_in_at > _max_age_s():
        return None
    return user_id, version


def load(login_id: str) -> User | None:
    """The signed-in user a session or remember cookie names, if that login is still valid."""
    parsed = parse_login(login_id)
    if parsed is None:
        return None
    user_id, version = parsed
    user = db.session.get(User, user_id)
    if user is None or not user.is_active or user.session_version != version:
        return None
    user._login_id = login_id  # what Flask-Login's get_id gives back
    return user


def sign_in(user: User, remember: bool) -> None:
    """Start a new session: nothing of the one before it survives (no session fixation)."""
    session.clear()
    g.pop("csrf_token", None)  # Flask-WTF's token cached for this request was the old session's
    user._login_id = _login_id(user)
    login_user(user, remember=remember)


def sign_out_everywhere(user: User) -> None:
    """End this session and every other one of the user, remember cookies included."""
    user.end_sessions()
    db.session.commit()
    session.clear()
    g.pop("csrf_token", None)
    logout_user()  # after the clear: it leaves the note that deletes the remember cookie


def keep_signed_in(user: User) -> None:
    """After the user's version moved on (a new password), sign this browser in again, alone.

    Every other session and remember cookie named the old version and ends; this one gets a new
    login id, and a new remember cookie only if it came with one.
    """
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
    sign_in(user, remember=remembered)
