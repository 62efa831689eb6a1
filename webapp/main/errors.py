"""Error pages that match the layout (and a bare message for htmx requests)."""

from flask import render_template
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.htmx import is_htmx


def handle_http_error(error):
    """Render 4xx/5xx in the site layout, or as a small fragment for htmx."""
    if not isinstance(error, HTTPException):
        error = InternalServerError()
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    return render_template(template, error=error), error.code
