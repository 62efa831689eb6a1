"""Mailbox views: thin; the folder rules live in webapp/mail/folders.py."""

from flask import abort, current_app, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from webapp.extensions import db
from webapp.htmx import htmx_target, is_htmx, render
from webapp.mail import folders
from webapp.mail.readstate import mark_read
from webapp.mail.storage import BlobStore
from webapp.mailbox import bp
from webapp.models import Attachment


def folder_or_404(slug: str) -> folders.Folder:
    folder = folders.FOLDERS_BY_SLUG.get(slug)
    if folder is None:
        abort(404)
    return folder


def _page(folder: folders.Folder):
    """The first page of a folder, or the page after the `before` cursor."""
    before = folders.decode_cursor(request.args.get("before"))
    limit = current_app.config["PAGE_SIZE"]
    rows, has_more = folders.list_rows(folder.slug, current_user, before=before, limit=limit)
    return rows, has_more


def nav_context(folder: folders.Folder) -> dict:
    return {
        "folder": folder,
        "folders": folders.FOLDERS,
        "groups": folders.GROUPS,
        "counts": folders.unread_counts(current_user),
    }


@bp.route("/")
def index():
    """Start in the inbox."""
    return redirect(url_for("mailbox.folder", slug="inbox"))


@bp.route("/mail/<slug>")
def folder(slug: str):
    """A folder's conversations: the full page, the list alone, or the next rows on scroll."""
    folder = folder_or_404(slug)
    rows, has_more = _page(folder)
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
def conversation(slug: str, thread_id: int):
    """One conversation, marked read for this user: the pane alone, or the whole page."""
    return render_conversation(folder_or_404(slug), thread_id)


def wants_pane() -> bool:
    """Whether htmx asked for the conversation pane alone."""
    return htmx_target() == "message-pane"


def thread_or_404(thread_id: int):
    """(thread, messages) of a conversation the user may see; 404 otherwise."""
    found = folders.thread_for(current_user, thread_id)
    if found is None:
        abort(404)
    return found


def render_conversation(folder: folders.Folder, thread_id: int, status: int = 200, with_list=False, **extra):
    """The conversation pane (htmx) or the page with it open; 404 unless the user may see it.

    `with_list` also swaps the list to `folder` (after a send lands the user in Sent).
    """
    thread, messages = thread_or_404(thread_id)
    mark_read(current_user.id, messages)
    db.session.commit()
    from webapp.people.routes import pane_extras

    context = {"thread": thread, "messages": messages, **nav_context(folder), **_follows(thread), **extra}
    context.update(pane_extras(thread, messages, extra))
    if wants_pane():
        row = folders.get_row(folder.slug, current_user, thread_id)
        if with_list:
            context["rows"], context["has_more"] = _page(folder)
        partials = {"message-pane": "mailbox/_thread_swap.html"}
        return render("mailbox/folder.html", partials, status=status, row=row, list_oob=with_list, **context)
    rows, has_more = _page(folder)
    return render("mailbox/folder.html", status=status, rows=rows, has_more=has_more, **context)


def _follows(thread) -> dict:
    """Whether the user follows the conversation's candidate and its job (the toolbar's buttons)."""
    from webapp.mail.actions import is_following_candidate, is_following_offer

    user_id = current_user.id
    return {
        "following_candidate": bool(thread.candidate_id)
        and is_following_candidate(user_id, thread.candidate_id),
        "following_offer": bool(thread.offer_id) and is_following_offer(user_id, thread.offer_id),
    }


def render_pane(folder_slug: str, pane_template: str, status: int = 200, **context):
    """Any pane content (e.g. the compose form): alone for htmx, else inside the full page."""
    folder = folder_or_404(folder_slug)
    context = {"thread": None, **nav_context(folder), **context}
    if wants_pane():
        return render(pane_template, status=status, **context)
    rows, has_more = _page(folder)
    return render(
        "mailbox/folder.html", status=status, rows=rows, has_more=has_more, pane=pane_template, **context
    )


@bp.route("/attachments/<int:attachment_id>")
def attachment(attachment_id: int):
    """Download an attachment of a message the user may see; never rendered inline."""
    att = db.session.get(Attachment, attachment_id)
    if att is None or folders.visible_message(current_user, att.message_id) is None:
        abort(404)
    store = BlobStore(current_app.config["STORAGE_DIR"])
    response = send_file(
        store.path(att.sha256),
        mimetype=att.content_type or "application/octet-stream",
        as_attachment=True,
        download_name=att.filename,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
