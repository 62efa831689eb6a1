"""Search: one box over sender, recipients, subject and body, within what the user may see."""

from flask import abort, current_app, render_template, request
from flask_login import current_user
from sqlalchemy.exc import OperationalError

from webapp.extensions import db
from webapp.htmx import is_htmx, render
from webapp.mail.read import folders
from webapp.mail.read.search import matching
from webapp.mailbox import bp
from webapp.page_cache import kept_page
from webapp.panes.conversation import nav_context


@bp.route("/search")
@kept_page
def search():
    """Conversations matching the query, optionally within one folder; in the list pane."""
    query = request.args.get("q", "").strip()
    scope = request.args.get("folder") or "all"
    if scope != "all" and scope not in folders.FOLDERS_BY_SLUG:
        abort(404)
    match = matching(query)
    rows, has_more, too_long = [], False, False
    if match is not None:
        before = folders.decode_cursor(request.args.get("before"))
        try:
            rows, has_more = folders.list_rows(
                scope, current_user, before=before, limit=current_app.config["PAGE_SIZE"], match=match
            )
        except OperationalError:  # the database's statement timeout: say so, not a 500
            db.session.rollback()
            too_long = True
    # Rows open in the folder searched, or in All candidates (any visible conversation opens there).
    link_slug = scope if scope != "all" else "candidates"
    context = {
        **nav_context(folders.FOLDERS_BY_SLUG[link_slug]),
        "rows": rows,
        "has_more": has_more,
        "thread": None,
        "query": query,
        "scope": scope,
        "row_slug": link_slug,
        "more_endpoint": "mailbox.search",
        "more_args": {"q": query, "folder": scope},
        "searching": True,
        "too_long": too_long,
    }
    if is_htmx() and request.args.get("before"):
        return render_template("mailbox/_rows.html", **context)
    return render("mailbox/folder.html", {"message-list": "mailbox/_search_swap.html"}, **context)
