"""The htmx helpers: tell a fragment request from a page request, and render either."""

import json

from flask import make_response, render_template, request


def is_htmx() -> bool:
    """An htmx request that wants a fragment (a history restore wants the full page)."""
    return request.headers.get("HX-Request") == "true" and not request.headers.get(
        "HX-History-Restore-Request"
    )


def htmx_target() -> str | None:
    return request.headers.get("HX-Target") if is_htmx() else None


def render(page: str, partials: dict[str, str] | None = None, status: int = 200, **context):
    """Render `page`, or the partial registered for the htmx request's target."""
    template = page
    target = htmx_target()
    if target and partials and target in partials:
        template = partials[target]
    return make_response(render_template(template, **context), status)


def toast(response, message: str, undo: str | None = None, thread_id: int | None = None):
    """Have the page say briefly what was done (static/js/app.js shows it), with Undo if given."""
    detail = {"message": message, "undo": undo, "thread": thread_id}
    response.headers["HX-Trigger"] = json.dumps({"hm:toast": detail})
    return response
