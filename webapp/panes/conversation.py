"""The conversation pane: alone for htmx, or inside the three-pane page.

Mailbox, people and compose views all end on this pane, so it lives here, outside any blueprint;
the people boxes it shows come from webapp/people/boxes.py.
"""

from flask import abort, current_app, redirect, request, url_for
from flask_login import current_user

from webapp.extensions import db
from webapp.htmx import htmx_target, render
from webapp.mail.outbound import drafts
from webapp.mail.read import folders
from webapp.mail.read.readstate import unread_ids
from webapp.people.boxes import pane_extras
from webapp.people.operations import following


def folder_or_404(slug: str) -> folders.Folder:
    """The folder named by the URL; 404 for an unknown one."""
    folder = folders.FOLDERS_BY_SLUG.get(slug)
    if folder is None:
        abort(404)
    return folder


def thread_or_404(thread_id: int):
    """(thread, messages) of a conversation the user may see; 404 otherwise."""
    found = folders.thread_for(current_user, thread_id)
    if found is None:
        abort(404)
    return found


def folder_page(folder: folders.Folder):
    """The first page of a folder, or the page after the `before` cursor."""
    before = folders.decode_cursor(request.args.get("before"))
    limit = current_app.config["PAGE_SIZE"]
    rows, has_more = folders.list_rows(folder.slug, current_user, before=before, limit=limit)
    return rows, has_more


def nav_context(folder: folders.Folder) -> dict:
    """The folder list and its unread counts, with `folder` as the current one."""
    return {
        "folder": folder,
        "folders": folders.FOLDERS,
        "groups": folders.GROUPS,
        "counts": folders.unread_counts(current_user),
    }


def wants_pane() -> bool:
    """Whether htmx asked for the conversation pane alone."""
    return htmx_target() == "message-pane"


def render_conversation(folder: folders.Folder, thread_id: int, status: int = 200, with_list=False, **extra):
    """The conversation pane (htmx) or the page with it open; 404 unless the user may see it.

    `with_list` also swaps the list to `folder` (after a send lands the user in Sent).
    """
    if folder.slug == "drafts":
        # A draft opens in the composer (a new email's conversation has nothing else to show).
        draft = drafts.in_thread(current_user.id, thread_id) or abort(404)
        return redirect(url_for("compose.open_draft", message_id=draft.id, folder=folder.slug))
    found = folders.thread_and_draft(current_user, thread_id)
    if found is None:
        abort(404)
    thread, messages, my_draft = found
    # A GET never changes the read state (a link from another site could mark mail read): the
    # pane asks for it with a POST once shown (templates/mailbox/_thread.html, `mark_read_up_to`).
    unread = unread_ids(current_user.id, messages)
    context = {
        "thread": thread,
        "messages": messages,
        "mark_read_up_to": max(unread) if unread else None,
        "my_draft": my_draft,
        **nav_context(folder),
        **_follows(thread),
        **extra,
    }
    context.update(pane_extras(thread, messages, extra))
    if wants_pane():
        row = folders.get_row(folder.slug, current_user, thread.id, messages)
        if with_list:
            context["rows"], context["has_more"] = folder_page(folder)
        partials = {"message-pane": "mailbox/_thread_swap.html"}
        response = render(
            "mailbox/folder.html", partials, status=status, row=row, list_oob=with_list, **context
        )
    else:
        rows, has_more = folder_page(folder)
        response = render("mailbox/folder.html", status=status, rows=rows, has_more=has_more, **context)
    # Committed once rendered (the operations that end here wrote first): a commit expires every
    # loaded row, and the template would load each message again, one statement at a time.
    db.session.commit()
    return response


def _follows(thread) -> dict:
    """Whether the user follows the conversation's candidate and its job (the toolbar's buttons)."""
    candidate, offer = following(current_user.id, thread.candidate_id, thread.offer_id)
    return {"following_candidate": candidate, "following_offer": offer}


def render_pane(folder_slug: str, pane_template: str, status: int = 200, **context):
    """Any pane content (e.g. the compose form): alone for htmx, else inside the full page."""
    folder = folder_or_404(folder_slug)
    context = {"thread": None, **nav_context(folder), **context}
    if wants_pane():
        return render(pane_template, status=status, **context)
    rows, has_more = folder_page(folder)
    return render(
        "mailbox/folder.html", status=status, rows=rows, has_more=has_more, pane=pane_template, **context
    )
