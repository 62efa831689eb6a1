"""Settings > Mailbox views: the form, Save (tests first), Test connection, Sync now, progress, Disconnect."""

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp.extensions import db
from webapp.jobs.enqueue import SYNC_JOB, enqueue_mailbox
from webapp.mail.sync.imap import ErrorKind, MailboxError, Server
from webapp.mail.sync.runner import test_server
from webapp.mail.sync.vault import VaultError
from webapp.mailbox_sync import bp, operations
from webapp.mailbox_sync.forms import MailboxForm
from webapp.mailbox_sync.page import disconnect_args, page, progress_of, taken, web_timing, with_grant_notice
from webapp.models import AuthMethod, MailboxConnection
from webapp.services import mailbox_vault
from webapp.templating import translate

# Which field an error belongs next to.
ERROR_FIELD = {ErrorKind.AUTH: "password", ErrorKind.UNREACHABLE: "host", ErrorKind.TLS: "security"}


def _checked(form: MailboxForm) -> bool:
    """Validate the form; a missing or wrong CSRF token is a 400, not a field error."""
    valid = form.validate_on_submit()
    if "csrf_token" in form.errors:
        abort(400)
    return valid


def _server(form: MailboxForm, connection: MailboxConnection | None) -> Server | None:
    """The server the form names, with the password typed or, left blank, the stored one."""
    password = form.password.data or ""
    # An OAuth connection's stored secret is a refresh token, no password.
    if not password and connection is not None and connection.auth == AuthMethod.PASSWORD:
        vault = mailbox_vault()
        try:
            password = vault.decrypt(connection.secret) if vault is not None else ""
        except VaultError:
            password = ""
    if not password:
        form.password.errors = [*form.password.errors, _("Enter the password.")]
        return None
    return Server(
        (form.host.data or "").strip(),
        form.port.data or 0,
        form.security.data or "tls",
        (form.username.data or "").strip(),
        password,
    )


def _test(form: MailboxForm, server: Server) -> tuple[bool, str]:
    """Try the server; (worked, what to say), the error also set on its field."""
    try:
        sent = test_server(server, web_timing())
    except MailboxError as exc:
        message = translate(exc.phrase)
        field = ERROR_FIELD.get(exc.kind)
        if field:
            getattr(form, field).errors = [*getattr(form, field).errors, message]
        return False, message
    if sent is None and not form.sent_folder.data:
        return True, _("Connected. No Sent folder was found: name it below to sync the mail you send.")
    return True, _("Connected. Sent folder: %(name)s", name=form.sent_folder.data or sent)


@bp.route("/mailbox", methods=["GET"])
def mailbox():
    """The user's mailbox settings: the form, and how the sync fares."""
    connection = operations.connection_of(current_user.id)
    form = MailboxForm(obj=connection) if connection is not None else MailboxForm()
    done = request.args.get("done")
    waiting = done in ("saved", "queued")  # a sync about to start: the page watches for it
    notice = with_grant_notice(_notice(done), done)
    return page(
        form,
        connection,
        notice=notice,
        wait=WAIT_POLLS if waiting else 0,
        failure=_("That sign-in link is no longer valid (used already, or started elsewhere): start again.")
        if request.args.get("failed") == "signin"
        else None,
    )


def _notice(done: str | None) -> str | None:
    return {
        "saved": _("Mailbox connected. Its mail is being synced."),
        "disconnected": _("Mailbox disconnected. Sync has stopped; the mail already synced stays."),
        "queued": _("A sync will start in a moment."),
    }.get(done or "")


@bp.route("/mailbox", methods=["POST"])
def save():
    """Test the connection, then save it (password encrypted) and start a sync; errors in place."""
    vault = mailbox_vault()
    if vault is None:
        abort(404)
    connection = operations.connection_of(current_user.id)
    form = MailboxForm()
    server, _message, refusal = _tried(form, connection)
    if refusal is not None:
        return refusal
    try:
        saved = operations.save(
            current_user.id,
            server,
            (form.incoming_folder.data or "INBOX").strip(),
            (form.sent_folder.data or "").strip() or None,
            vault,
        )
    except operations.MailboxTaken as exc:
        db.session.rollback()
        return page(form, connection, status=422, failure=taken(exc))
    db.session.commit()
    enqueue_mailbox(SYNC_JOB, saved.id)
    return redirect(url_for("mailbox_sync.mailbox", done="saved"))


@bp.route("/mailbox/test", methods=["POST"])
def test():
    """Try the settings in the form without saving them: it works, or why not."""
    connection = operations.connection_of(current_user.id)
    form = MailboxForm()
    _server_tried, message, refusal = _tried(form, connection)
    return refusal if refusal is not None else page(form, connection, success=message)


def _tried(form: MailboxForm, connection):
    """The form checked and its server tried: (server, what it said, None), or the page saying
    why not (422) as the third item."""
    if not _checked(form):
        return None, "", page(form, connection, status=422)
    server = _server(form, connection)
    if server is None:
        return None, "", page(form, connection, status=422)
    worked, message = _test(form, server)
    if not worked:
        return None, message, page(form, connection, status=422, failure=message)
    return server, message, None


@bp.route("/mailbox/sync", methods=["POST"])
def sync_now():
    """Queue a sync of the user's mailbox now."""
    connection = operations.connection_of(current_user.id)
    if connection is None:
        abort(404)
    enqueue_mailbox(SYNC_JOB, connection.id)
    return redirect(url_for("mailbox_sync.mailbox", done="queued"))


# The page polls this long for a sync it queued to start (polls every POLL_S seconds).
WAIT_POLLS = 30


@bp.route("/mailbox/progress", methods=["GET"])
def progress():
    """The running sync's progress (htmx fragment, polled while a sync runs or is about to)."""
    connection = operations.connection_of(current_user.id)
    wait = max(0, min(request.args.get("wait", 0, type=int), WAIT_POLLS) - 1)
    return render_template(
        "mailbox_sync/_progress.html",
        progress=progress_of(connection),
        wait=wait if connection is not None else 0,
        shown=request.args.get("shown") == "1",
    )


@bp.route("/mailbox/disconnect", methods=["POST"])
def disconnect():
    """Stop syncing: the connection and its password are deleted, an OAuth grant withdrawn at the
    provider; synced mail stays."""
    connection = operations.connection_of(current_user.id)
    grant = operations.grant_of(connection, current_app.config["MAILBOX_OAUTH_PROVIDERS"], mailbox_vault())
    if not operations.disconnect(current_user.id):
        abort(404)
    db.session.commit()
    outcome = operations.withdraw(grant)  # after the commit: no transaction waits on the provider
    current_app.logger.info("user %s disconnected their mailbox (grant: %s)", current_user.id, outcome)
    return redirect(url_for("mailbox_sync.mailbox", done="disconnected", **disconnect_args(grant, outcome)))
