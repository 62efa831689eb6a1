"""Settings > Shared mailboxes (admins): connect jobs@ / talent@, name who shares them, disconnect."""

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.extensions import db
from webapp.jobs.enqueue import SYNC_JOB, enqueue_mailbox
from webapp.mail.sync.imap import MailboxError, Server
from webapp.mail.sync.runner import error_phrase, test_server
from webapp.mail.sync.shared import sharing_users
from webapp.mailbox_sync import bp, operations
from webapp.mailbox_sync.forms import SharedMailboxForm, SharedOAuthForm, SharesForm
from webapp.mailbox_sync.page import disconnect_args, taken, user_choices, web_timing, with_grant_notice
from webapp.models import MailboxConnection
from webapp.services import mailbox_vault
from webapp.templating import translate

PAGE = "mailbox_sync/shared.html"


def _admin_only() -> None:
    if not current_user.is_admin:
        abort(404)


def _page(form: SharedMailboxForm, status: int = 200, **extra):
    """The list of shared mailboxes (each with its users, its state, its form) and the connect form."""
    choices = user_choices()
    mailboxes = []
    for connection in operations.shared_connections():
        shares = SharesForm(prefix=f"m{connection.id}")
        shares.users.choices = choices
        shares.users.data = [u.id for u in sharing_users(connection.id)]
        error = error_phrase(connection)
        mailboxes.append((connection, shares, translate(error) if error is not None else None))
    oauth_forms = []
    for provider in current_app.config["MAILBOX_OAUTH_PROVIDERS"].values():
        oauth_form = SharedOAuthForm(prefix=f"oauth-{provider.name}")
        oauth_form.users.choices = choices
        oauth_forms.append((provider, oauth_form))
    return (
        render_template(
            PAGE,
            form=form,
            mailboxes=mailboxes,
            oauth_forms=oauth_forms,
            available=mailbox_vault() is not None,
            **extra,
        ),
        status,
    )


def _connect_form() -> SharedMailboxForm:
    form = SharedMailboxForm()
    form.users.choices = user_choices()
    return form


@bp.route("/shared-mailboxes", methods=["GET"])
def shared_mailboxes():
    """The shared mailboxes, who shares each, how their sync fares; the form to connect one."""
    _admin_only()
    failure = (
        _("Give the mailbox's address and its name, then sign it in.")
        if request.args.get("failed") == "oauth-form"
        else None
    )
    done = request.args.get("done")
    notice = with_grant_notice(_notice(done), done)
    return _page(_connect_form(), notice=notice, failure=failure)


def _notice(done: str | None) -> str | None:
    return {
        "connected": _("Shared mailbox connected. Its mail is being synced."),
        "shared": _("Saved: the mailbox's new mail reaches these users."),
        "disconnected": _("Shared mailbox disconnected. Sync has stopped; the mail already synced stays."),
    }.get(done or "")


@bp.route("/shared-mailboxes", methods=["POST"])
def connect_shared():
    """Test a shared mailbox, then connect it (password encrypted) for the users named."""
    _admin_only()
    vault = mailbox_vault()
    if vault is None:
        abort(404)
    form = _connect_form()
    valid = form.validate_on_submit()
    if "csrf_token" in form.errors:
        abort(400)
    if not form.password.data:
        form.password.errors = [*form.password.errors, _("Enter the password.")]
        valid = False
    if not valid:
        return _page(form, status=422)
    server = Server(
        (form.host.data or "").strip(),
        form.port.data or 0,
        form.security.data or "tls",
        (form.username.data or "").strip(),
        form.password.data or "",
    )
    try:
        operations.check_free(server.host, server.username, None)
        test_server(server, web_timing())
    except operations.MailboxTaken as exc:
        return _page(form, status=422, failure=taken(exc))
    except MailboxError as exc:
        return _page(form, status=422, failure=translate(exc.phrase))
    try:
        connection = operations.connect_shared(
            current_user.id,
            (form.name.data or "").strip(),
            server,
            (form.incoming_folder.data or "INBOX").strip(),
            list(form.users.data or []),
            vault,
        )
    except operations.MailboxTaken as exc:  # connected meanwhile by someone else
        db.session.rollback()
        return _page(form, status=422, failure=taken(exc))
    db.session.commit()
    current_app.logger.info("admin %s connected shared mailbox %s", current_user.id, connection.id)
    enqueue_mailbox(SYNC_JOB, connection.id)
    return redirect(url_for("mailbox_sync.shared_mailboxes", done="connected"))


def _shared_or_404(connection_id: int) -> MailboxConnection:
    connection = db.session.get(MailboxConnection, connection_id)
    if connection is None or not connection.shared:
        abort(404)
    return connection


@bp.route("/shared-mailboxes/<int:connection_id>/users", methods=["POST"])
def share_mailbox(connection_id: int):
    """Name the users who share the mailbox (exactly those ticked)."""
    _admin_only()
    connection = _shared_or_404(connection_id)
    form = SharesForm(prefix=f"m{connection.id}")
    form.users.choices = user_choices()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _page(_connect_form(), status=422, failure=_("Choose users from the list."))
    operations.share(connection.id, list(form.users.data or []))
    db.session.commit()
    return redirect(url_for("mailbox_sync.shared_mailboxes", done="shared"))


@bp.route("/shared-mailboxes/<int:connection_id>/disconnect", methods=["POST"])
def disconnect_shared(connection_id: int):
    """Stop syncing a shared mailbox: it and its password are deleted; synced mail stays."""
    _admin_only()
    connection = _shared_or_404(connection_id)
    grant = operations.grant_of(connection, current_app.config["MAILBOX_OAUTH_PROVIDERS"], mailbox_vault())
    operations.disconnect_shared(connection_id)
    db.session.commit()
    outcome = operations.withdraw(grant)  # after the commit: no transaction waits on the provider
    args = disconnect_args(grant, outcome)
    return redirect(url_for("mailbox_sync.shared_mailboxes", done="disconnected", **args))
