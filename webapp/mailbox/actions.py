"""Conversation actions (POST, CSRF): archive, read/unread; following lives with the people views."""

from flask import make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from webapp import audit
from webapp.extensions import db
from webapp.htmx import is_htmx, toast
from webapp.mail.read import folders
from webapp.mail.read.readstate import mark_read, mark_unread
from webapp.mailbox import bp, operations
from webapp.panes.conversation import (
    folder_or_404,
    folder_page,
    nav_context,
    render_conversation,
    thread_or_404,
    wants_pane,
)


def _after_change(folder: folders.Folder, thread_id: int, open_pane: bool, selected=None):
    """The new state: the pane (if it stays open), the row or its removal, and the counts.

    `selected`: the conversation still open in the pane, so its row stays selected.
    `?list=1` (an Undo) swaps the whole list too: the row it brings back is no longer in the page.
    """
    if not is_htmx():
        return redirect(url_for("mailbox.conversation", slug=folder.slug, thread_id=thread_id))
    with_list = request.args.get("list") == "1"
    if open_pane and wants_pane():
        return render_conversation(folder, thread_id, with_list=with_list)
    row = folders.get_row(folder.slug, current_user, thread_id)
    rows, has_more = folder_page(folder) if with_list else (None, False)
    return make_response(
        render_template(
            "mailbox/_action_swap.html",
            row=row,
            thread_id=thread_id,
            thread=selected,
            close_pane=request.args.get("close") == "1",
            rows=rows,
            has_more=has_more,
            list_oob=with_list,
            **nav_context(folder),
        )
    )


@bp.route("/mail/<slug>/<int:thread_id>/<any(archive, unarchive):action>", methods=["POST"])
def archive(slug: str, thread_id: int, action: str):
    """Archive or unarchive a conversation for the whole team."""
    folder = folder_or_404(slug)
    thread, _messages = thread_or_404(thread_id)
    if action == "archive":
        operations.archive(thread, current_user.id)
        said, undo = _("Archived."), "unarchive"
    else:
        operations.unarchive(thread)
        said, undo = _("Moved back to the folders."), "archive"
    audit.record(current_user.id, action, "thread", thread.id)
    db.session.commit()
    undo_url = url_for("mailbox.archive", slug=folder.slug, thread_id=thread_id, action=undo, list=1)
    return toast(_after_change(folder, thread_id, open_pane=True), said, undo_url, thread_id)


@bp.route("/mail/<slug>/<int:thread_id>/<any(read, unread):state>", methods=["POST"])
def read_state(slug: str, thread_id: int, state: str):
    """Mark a conversation read or unread, for this user only."""
    folder = folder_or_404(slug)
    thread, messages = thread_or_404(thread_id)
    if state == "read":
        # The pane's own request names the newest message it showed: what came since stays unread.
        mark_read(current_user.id, messages, up_to=request.args.get("up_to", type=int))
    else:
        mark_unread(current_user.id, [m.id for m in messages])
    db.session.commit()
    # Marking unread closes the pane. The pane's own mark-read (templates/mailbox/_thread.html)
    # gets the row, still selected, and the counts.
    response = _after_change(
        folder, thread_id, open_pane=state == "read", selected=thread if state == "read" else None
    )
    if state == "unread":
        undo_url = url_for("mailbox.read_state", slug=folder.slug, thread_id=thread_id, state="read")
        toast(response, _("Marked unread."), undo_url, thread_id)
    return response
