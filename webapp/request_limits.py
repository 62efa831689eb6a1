"""How many bytes a request may carry: MAX_CONTENT_LENGTH for every route, more for a few.

A view that takes large bodies (compose with attachments, the inbound webhook) names its own
limit with `@allow_bytes("CONFIG_KEY")`. The limit is set on the request before any other hook
reads the body (CSRF reads the form): a larger body is refused with 413 before it is read, and
one that lies about its length is cut off at the limit. The proxy in front (docs/deploy.md)
buffers bodies and cuts slow clients off, so no worker waits on a trickle.
"""

from collections.abc import Callable
from typing import TypeVar

from flask import Flask, abort, current_app, request

View = TypeVar("View", bound=Callable)

_ATTRIBUTE = "max_request_bytes_key"


def allow_bytes(config_key: str) -> Callable[[View], View]:
    """Let this view take bodies up to the config value `config_key` (bytes)."""

    def mark(view: View) -> View:
        setattr(view, _ATTRIBUTE, config_key)
        return view

    return mark


def limit_for(endpoint: str | None) -> int | None:
    """The most bytes a request to `endpoint` may carry."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    key = getattr(view, _ATTRIBUTE, None)
    return current_app.config[key] if key else current_app.config["MAX_CONTENT_LENGTH"]


def init_app(app: Flask) -> None:
    """Set each request's limit first, before CSRF or the login guard reads its form."""

    @app.before_request
    def set_request_limit():
        limit = limit_for(request.endpoint)
        request.max_content_length = limit
        # Whatever the body's type (a form or not): refused before a byte is read.
        if limit is not None and (request.content_length or 0) > limit:
            abort(413)
