"""Login and logout views."""

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import func, select

from webapp import audit
from webapp.auth import bp
from webapp.auth.forms import LoginForm
from webapp.extensions import db
from webapp.models import User
from webapp.redirects import safe_next


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the login form; sign the user in on a valid POST."""
    if current_user.is_authenticated:
        return redirect(safe_next(request.args.get("next")) or url_for("mailbox.index"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if form.validate_on_submit():
        email, password = form.email.data or "", form.password.data or ""  # both required
        user = db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))
        signed_in = bool(user and user.is_active and user.check_password(password))
        audit.record_login(email, user, signed_in)
        if signed_in:
            login_user(user, remember=form.remember.data)
            return redirect(safe_next(form.next.data) or url_for("mailbox.index"))
        form.password.errors = [*form.password.errors, _("Wrong email or password.")]
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out and go back to the login page."""
    logout_user()
    return redirect(url_for("auth.login"))
