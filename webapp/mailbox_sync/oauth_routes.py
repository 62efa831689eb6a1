"""Settings > Mailbox, signing in with Google or Microsoft: start the OAuth flow, take its callback."""

import hmac

from flask import abort, current_app, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.extensions import db
from webapp.jobs.enqueue import SYNC_JOB, enqueue_mailbox
from webapp.mail.sync import oauth
from webapp.mail.sync.imap import XOAUTH2, MailboxError, Server
from webapp.mail.sync.runner import test_server
from webapp.mailbox_sync import bp, operations
from webapp.mailbox_sync.forms import MailboxForm, OAuthStartForm, SharedOAuthForm
from webapp.mailbox_sync.page import page, taken, user_choices, web_timing
from webapp.services import mailbox_vault
from webapp.templating import translate

# Where the started flow waits for its callback, in the user's (signed) session.
PENDING = "mailbox_oauth"


def _provider_or_404(name: str) -> oauth.Provider:
    provider = current_app.config["MAILBOX_OAUTH_PROVIDERS"].get(name)
    if provider is None or mailbox_vault() is None:
        abort(404)
    return provider


def _redirect_uri() -> str:
    return url_for("mailbox_sync.oauth_callback", _external=True)


def _failed(message: str, status: int = 422):
    """The settings page saying why the sign-in did not connect the mailbox."""
    connection = operations.connection_of(current_user.id)
    form = MailboxForm(obj=connection) if connection is not None else MailboxForm()
    return page(form, connection, status=status, failure=message)


@bp.route("/mailbox/oauth/<provider_name>", methods=["POST"])
def oauth_start(provider_name: str):
    """Send the browser to the provider's sign-in, with a state and a PKCE challenge kept in the session."""
    provider = _provider_or_404(provider_name)
    form = OAuthStartForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _failed(form.username.errors[0] if form.username.errors else _("Enter the email address."))
    return _to_provider(provider, (form.username.data or "").strip())


@bp.route("/shared-mailboxes/oauth/<provider_name>", methods=["POST"])
def oauth_start_shared(provider_name: str):
    """An admin signs a shared mailbox in at the provider: name and users kept with the flow."""
    if not current_user.is_admin:
        abort(404)
    provider = _provider_or_404(provider_name)
    form = SharedOAuthForm(prefix=f"oauth-{provider.name}")
    form.users.choices = user_choices()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return redirect(url_for("mailbox_sync.shared_mailboxes", failed="oauth-form"))
    shared = {"name": (form.name.data or "").strip(), "users": list(form.users.data or [])}
    return _to_provider(provider, (form.username.data or "").strip(), shared=shared)


def _to_provider(provider: oauth.Provider, username: str, shared: dict | None = None):
    """Start the flow: what the callback needs is kept in this user's session, then off to sign in."""
    started = oauth.start(provider, _redirect_uri(), login_hint=username)
    pending = {
        "state": started.state,
        "verifier": started.verifier,
        "provider": provider.name,
        "username": username,
        "user_id": current_user.id,
    }
    if shared is not None:
        pending["shared"] = shared
    session[PENDING] = pending
    return redirect(started.url)


@bp.route("/mailbox/oauth/callback")
def oauth_callback():
    """The provider's answer: the state checked against the session, the code exchanged, the mailbox
    tried and saved."""
    pending = session.pop(PENDING, None)
    state = request.args.get("state", "")
    if (
        not pending
        or pending.get("user_id") != current_user.id
        or not hmac.compare_digest(str(pending.get("state", "")), state)
    ):
        # Not the flow this session started (a forged or replayed link): nothing is exchanged.
        return redirect(url_for("mailbox_sync.mailbox", failed="signin"))
    provider = _provider_or_404(pending["provider"])
    vault = mailbox_vault()
    shared = pending.get("shared")
    if vault is None or (shared is not None and not current_user.is_admin):
        abort(404)  # (a shared mailbox's flow by someone no longer an admin: nothing is saved)
    if request.args.get("error"):
        said = request.args.get("error_description") or request.args["error"]
        return _failed(_("The sign-in was not completed: %(reason)s", reason=said[:300]))
    code = request.args.get("code", "")
    if not code:
        abort(400)
    try:
        tokens = oauth.exchange_code(provider, code, pending["verifier"], _redirect_uri())
    except oauth.OAuthError as exc:
        return _failed(_("The sign-in provider refused the sign-in: %(reason)s", reason=exc.detail))
    server = Server(
        provider.imap_host,
        provider.imap_port,
        provider.imap_security,
        pending["username"],
        tokens.access_token,
        mechanism=XOAUTH2,
    )
    try:
        test_server(server, web_timing())
    except MailboxError as exc:
        return _failed(translate(exc.phrase))
    try:
        if shared is not None:
            saved = operations.connect_shared_oauth(
                current_user.id, shared["name"], provider, pending["username"], tokens, shared["users"], vault
            )
        else:
            saved = operations.save_oauth(current_user.id, provider, pending["username"], tokens, vault)
    except operations.MailboxTaken as exc:
        db.session.rollback()
        return _failed(taken(exc))
    db.session.commit()
    enqueue_mailbox(SYNC_JOB, saved.id)
    if saved.shared:
        return redirect(url_for("mailbox_sync.shared_mailboxes", done="connected"))
    return redirect(url_for("mailbox_sync.mailbox", done="saved"))
