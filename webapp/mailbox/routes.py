"""Mailbox views: thin; the folder rules live in webapp/mail/read/folders.py, the pane in webapp/panes/."""

from flask import abort, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from webapp import audit
from webapp.extensions import db
from webapp.htmx import is_htmx, render
from webapp.mail.read import folders
from webapp.mailbox import bp
from webapp.models import Attachment
from webapp.page_cache import kept_page
from webapp.panes.conversation import folder_or_404, folder_page, nav_context, render_conversation
from webapp.services import blob_store


@bp.route("/")
def index():
    """Start in the inbox."""
    return redirect(url_for("mailbox.folder", slug="inbox"))


@bp.route("/mail/<slug>")
@kept_page
def folder(slug: str):
    """A folder's conversations: the full page, the list alone, or the next rows on scroll."""
    folder = folder_or_404(slug)
    rows, has_more = folder_page(folder)
    if is_htmx() and request.args.get("before"):
        return render_template("mailbox/_rows.html", folder=folder, rows=rows, has_more=has_more)
    return render(
        "mailbox/folder.html",
        {"message-list": "mailbox/_folder_swap.html"},
        rows=rows,
        has_more=has_more,
        thread=None,
        **nav_context(folder),
    )


@bp.route("/mail/<slug>/<int:thread_id>")
@kept_page
def conversation(slug: str, thread_id: int):
    """One conversation, marked read for this user: the pane alone, or the whole page."""
    return render_conversation(folder_or_404(slug), thread_id)


@bp.route("/attachments/<int:attachment_id>")
def attachment(attachment_id: int):
    """Download an attachment of a message the user may see; never rendered inline."""
    att = db.session.get(Attachment, attachment_id)
    if att is None or folders.visible_message(current_user, att.message_id) is None:
        abort(404)
    if current_user.is_admin:  # an admin may open any mail: their downloads are on the record
        audit.record_now(current_user.id, "attachment_download", "attachment", att.id, message=att.message_id)
    response = send_file(
        blob_store().path(att.sha256),
        mimetype=att.content_type or "application/octet-stream",
        as_attachment=True,
        download_name=att.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
