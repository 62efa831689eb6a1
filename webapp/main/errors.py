"""Error pages that match the layout (and a bare message for htmx requests)."""

from flask import render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.htmx import is_htmx


def handle_http_error(error):
    """Render 4xx/5xx in the site layout, or as a small fragment for htmx."""
    if not isinstance(error, HTTPException):
        error = InternalServerError()
    template = "errors/_error.html" if is_htmx() else "errors/error.html"
    # 413: say how much this page takes (the limit is the route's: webapp/request_limits.py).
    limit = request.max_content_length or 0
    limit_mb = f"{round(limit / (1024 * 1024), 1):g}" if error.code == 413 else None
    return render_template(template, error=error, limit_mb=limit_mb), error.code
