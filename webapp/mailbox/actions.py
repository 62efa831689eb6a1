"""Conversation actions (POST, CSRF, offer access): archive, read/unread, follow."""

from flask import abort, render_template, request
from flask_login import current_user

from webapp.extensions import db
from webapp.htmx import is_htmx
from webapp.mail import actions, folders
from webapp.mail.readstate import mark_read, mark_unread
from webapp.mailbox import bp
from webapp.mailbox.routes import folder_or_404, nav_context, render_conversation, thread_or_404, wants_pane
from webapp.models import Candidate, Offer
from webapp.people.queries import visible_candidate, visible_offer


def _after_change(folder: folders.Folder, thread_id: int, open_pane: bool):
    """The new state: the pane (if it stays open), the row or its removal, and the counts."""
    if not is_htmx():
        from flask import redirect, url_for

        return redirect(url_for("mailbox.conversation", slug=folder.slug, thread_id=thread_id))
    if open_pane and wants_pane():
        return render_conversation(folder, thread_id)
    row = folders.get_row(folder.slug, current_user, thread_id)
    return render_template("mailbox/_action_swap.html", row=row, thread_id=thread_id, thread=None,
                           close_pane=request.args.get("close") == "1", **nav_context(folder))  # fmt: skip


@bp.route("/mail/<slug>/<int:thread_id>/<any(archive, unarchive):action>", methods=["POST"])
def archive(slug: str, thread_id: int, action: str):
    """Archive or unarchive a conversation for the whole team."""
    folder = folder_or_404(slug)
    thread, _messages = thread_or_404(thread_id)
    if action == "archive":
        actions.archive(thread, current_user.id)
    else:
        actions.unarchive(thread)
    db.session.commit()
    return _after_change(folder, thread_id, open_pane=True)


@bp.route("/mail/<slug>/<int:thread_id>/<any(read, unread):state>", methods=["POST"])
def read_state(slug: str, thread_id: int, state: str):
    """Mark a conversation read or unread, for this user only."""
    folder = folder_or_404(slug)
    _thread, messages = thread_or_404(thread_id)
    if state == "read":
        mark_read(current_user.id, messages)
    else:
        mark_unread(current_user.id, [m.id for m in messages])
    db.session.commit()
    # Marking unread closes the pane (opening it again would mark it read).
    return _after_change(folder, thread_id, open_pane=state == "read")


def _candidate_or_404(candidate_id: int) -> Candidate:
    return visible_candidate(current_user, candidate_id) or abort(404)


def _offer_or_404(offer_id: int) -> Offer:
    return visible_offer(current_user, offer_id) or abort(404)


@bp.route("/candidates/<int:candidate_id>/<any(follow, unfollow):action>", methods=["POST"])
def follow_candidate(candidate_id: int, action: str):
    """Follow or unfollow a candidate the user can see; their mail joins Followed candidates."""
    candidate = _candidate_or_404(candidate_id)
    actions.follow_candidate(current_user.id, candidate.id, on=action == "follow")
    db.session.commit()
    return _follow_response("candidate", candidate, action == "follow")


@bp.route("/offers/<int:offer_id>/<any(follow, unfollow):action>", methods=["POST"])
def follow_offer(offer_id: int, action: str):
    """Follow or unfollow a job or talent pool the user can access."""
    offer = _offer_or_404(offer_id)
    actions.follow_offer(current_user.id, offer.id, on=action == "follow")
    db.session.commit()
    return _follow_response("offer", offer, action == "follow")


def _follow_response(kind: str, target, following: bool):
    """The new state where the click came from: the page's button, the pane, or the counts."""
    if request.args.get("button"):
        return render_template("people/_follow_button.html", kind=kind, target=target, following=following)
    folder = folders.FOLDERS_BY_SLUG.get(request.args.get("folder", ""), folders.FOLDERS[0])
    thread_id = request.args.get("thread", type=int)
    if thread_id and wants_pane():
        return render_conversation(folder, thread_id)
    return render_template("mailbox/_action_swap.html", row=None, thread_id=None, thread=None,
                           **nav_context(folder))  # fmt: skip
