"""The settings page: one page, two forms (profile; password), each answered in place."""

from flask import current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from webapp import audit
from webapp.account import bp, operations
from webapp.account.forms import PasswordForm, ProfileForm
from webapp.auth import sessions, throttle
from webapp.extensions import db
from webapp.mail.outbound import signature as signatures
from webapp.models import User

PAGE = "account/settings.html"


def _mailbox_settings_url() -> str | None:
    """The mailbox connection page, when this app has one (another part of the app owns it)."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/settings/mailbox" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


def _profile_form() -> ProfileForm:
    user = current_user
    return ProfileForm(
        data={
            "name": user.name,
            "signature": user.signature,
            "signature_format": "html" if user.signature_html else "text",
            "signature_html": user.signature_html or "",
            "timezone": user.timezone,
            "locale": user.locale or "",
        }
    )


def _show(profile: ProfileForm | None = None, password: PasswordForm | None = None, status: int = 200):
    profile = profile or _profile_form()
    return (
        render_template(
            PAGE,
            profile=profile,
            # What the formatted editor starts with: cleaned again, as it is shown as HTML.
            signature_editor_html=signatures.clean(profile.signature_html.data or ""),
            password=password or PasswordForm(),
            saved=request.args.get("saved"),
            mailbox_settings_url=_mailbox_settings_url(),
        ),
        status,
    )


@bp.route("/settings")
def settings():
    """The user's own settings: name, signature, time zone, language, password."""
    return _show()


@bp.route("/settings", methods=["POST"])
def save_profile():
    """Save name, signature, time zone and language; errors come back in place (422)."""
    form = ProfileForm()
    if not form.validate_on_submit():
        return _show(profile=form, status=422)
    user = db.session.get_one(User, current_user.id)
    rich = form.signature_format.data == "html"
    operations.update_profile(
        user,
        form.name.data or "",
        form.signature.data or "",
        form.timezone.data or "",
        form.locale.data,
        signature_html=(form.signature_html.data or "") if rich else None,
    )
    db.session.commit()
    return redirect(url_for("account.settings", saved="profile"))


@bp.route("/settings/password", methods=["POST"])
def change_password():
    """A new password: every other session and remember cookie of the user ends, this one stays."""
    form = PasswordForm()
    if not form.validate_on_submit():
        return _show(password=form, status=422)
    user = db.session.get_one(User, current_user.id)
    # The current password is guessed like a sign-in's: the same counters lock both.
    lock = throttle.locked(user.email, request.remote_addr)
    if lock is not None:
        form.current_password.errors = [_too_many(lock.minutes)]
        return _show(password=form, status=429)
    if not user.check_password(form.current_password.data or ""):
        throttle.failed(user.email, request.remote_addr)
        audit.record_now(user.id, "password_change_refused", "user", user.id, ip=audit.client_ip())
        form.current_password.errors = [_("That is not your current password.")]
        return _show(password=form, status=422)
    throttle.succeeded(user.email)
    operations.change_password(user, form.new_password.data or "", ip=audit.client_ip())
    db.session.commit()
    sessions.keep_signed_in(user)
    return redirect(url_for("account.settings", saved="password"))


def _too_many(minutes: int) -> str:
    return ngettext(
        "Too many wrong passwords. Try again in %(num)d minute.",
        "Too many wrong passwords. Try again in %(num)d minutes.",
        minutes,
    )
