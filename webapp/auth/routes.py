"""Login and logout views."""

import logging

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy import func, select

from webapp import audit
from webapp.auth import bp, sessions, throttle
from webapp.auth.forms import LoginForm
from webapp.auth.passwords import password_ok
from webapp.extensions import db
from webapp.models import User
from webapp.redirects import safe_next

log = logging.getLogger(__name__)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; sign the user in on a valid POST, unless failures lock it for now."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("mailbox.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        email, password = form.email.data or "", form.password.data or ""  # both required
        lock = throttle.locked(email, request.remote_addr)
        if lock is not None:
            # No password is checked while locked: a right one would tell the guesser too.
            _record_failure(None, email, "locked_" + lock.scope)
            form.password.errors = [_too_many(lock.minutes)]
            return (
                render_template("auth/login.html", form=form),
                429,
                {"Retry-After": str(lock.retry_after_s)},
            )
        user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        if password_ok(user, password) and user is not None:
            throttle.succeeded(email)
            sessions.sign_in(user, remember=bool(form.remember.data))
            audit.record(
                user.id, "login", "user", user.id, ip=request.remote_addr, remember=bool(form.remember.data)
            )
            db.session.commit()
            return redirect(safe_next(form.next.data) or url_for("mailbox.index"))
        throttle.failed(email, request.remote_addr)
        _record_failure(user, email, "wrong_password" if user else "unknown_account")
        form.password.errors = [*form.password.errors, _("Wrong email or password.")]
    return render_template("auth/login.html", form=form), status


def _too_many(minutes: int) -> str:
    return ngettext(
        "Too many failed sign-ins. Try again in %(num)d minute.",
        "Too many failed sign-ins. Try again in %(num)d minutes.",
        minutes,
    )


def _record_failure(user: User | None, email: str, reason: str) -> None:
    """A failed sign-in, in the log and the audit log (the admin's Audit page)."""
    address = request.remote_addr
    log.warning("login failed", extra={"reason": reason, "account": email[:254], "client": address})
    target_id = user.id if user else None
    audit.record(None, "login_failed", "user", target_id, email=email[:254], ip=address, reason=reason)
    db.session.commit()


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out here and everywhere else: every session and remember cookie of the user ends."""
    user = db.session.get_one(User, current_user.id)
    audit.record(user.id, "logout", "user", user.id, ip=request.remote_addr)
    sessions.sign_out_everywhere(user)
    return redirect(url_for("auth.login"))
