"""Conversation actions (POST, CSRF): archive, read/unread; following lives with the people views."""

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from webapp import audit
from webapp.extensions import db
from webapp.htmx import is_htmx
from webapp.mail.read import folders
from webapp.mail.read.readstate import mark_read, mark_unread
from webapp.mailbox import bp, operations
from webapp.panes.conversation import (
    folder_or_404,
    nav_context,
    render_conversation,
    thread_or_404,
    wants_pane,
)


def _after_change(folder: folders.Folder, thread_id: int, open_pane: bool, selected=None):
    """The new state: the pane (if it stays open), the row or its removal, and the counts.

    `selected`: the conversation still open in the pane, so its row stays selected.
    """
    if not is_htmx():
        return redirect(url_for("mailbox.conversation", slug=folder.slug, thread_id=thread_id))
    if open_pane and wants_pane():
        return render_conversation(folder, thread_id)
    row = folders.get_row(folder.slug, current_user, thread_id)
    return render_template(
        "mailbox/_action_swap.html",
        row=row,
        thread_id=thread_id,
        thread=selected,
        close_pane=request.args.get("close") == "1",
        **nav_context(folder),
    )


@bp.route("/mail/<slug>/<int:thread_id>/<any(archive, unarchive):action>", methods=["POST"])
def archive(slug: str, thread_id: int, action: str):
    """Archive or unarchive a conversation for the whole team."""
    folder = folder_or_404(slug)
    thread, _messages = thread_or_404(thread_id)
    if action == "archive":
        operations.archive(thread, current_user.id)
    else:
        operations.unarchive(thread)
    audit.record(current_user.id, action, "thread", thread.id)
    db.session.commit()
    return _after_change(folder, thread_id, open_pane=True)


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
    return _after_change(
        folder, thread_id, open_pane=state == "read", selected=thread if state == "read" else None
    )
