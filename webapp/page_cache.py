"""Pages kept in Redis: a folder list, a conversation or a search seen again costs one round trip.

A kept page is served again only to the same session (its CSRF token is in the page), for the
same URL, htmx target, language, time zone and day, and only while the change generations
(webapp/changes.py) read what they read when it was rendered: any write to what pages show
moves them. The generations and the page are read in one round trip. Pages are shared by every
web process and host (a page rendered by one worker is served by the others), and expire after
PAGE_CACHE_SECONDS (0 keeps none). A page is never kept when a flash message waits, when the
view set a cookie, or when anything changed while it was being rendered.

Pages carry no inline script (htmx's fallback is a file), so no CSP nonce: a page that would
carry one is not kept, since its nonce is new for every response. A page is kept gzipped too,
as the transfer layer would send it.
"""

import gzip
import hashlib
import json
import logging
import time
from functools import wraps

from flask import Response, current_app, g, make_response, request, session
from redis import RedisError

from webapp import changes
from webapp.auth import sessions
from webapp.transfer import COMPRESSIBLE, MIN_GZIP_BYTES

log = logging.getLogger(__name__)

# Set on the response after the view (by Flask, the session, gzip): never kept.
_NOT_KEPT_HEADERS = frozenset({"content-length", "set-cookie", "content-encoding"})
MAX_PAGE_BYTES = 1024 * 1024  # a conversation with a huge body is rendered each time instead
QUARTER_HOUR_S = 900


def _seconds() -> int:
    return int(current_app.config.get("PAGE_CACHE_SECONDS", 0))


def _login() -> tuple[str, int] | None:
    """The session's login id and its user id, if it names a login young enough (no database)."""
    login_id = session.get("_user_id")
    if not isinstance(login_id, str):
        return None
    parsed = sessions.parse_login(login_id)
    return (login_id, parsed[0]) if parsed is not None else None


def _key(login_id: str) -> str | None:
    """The page's Redis key: what it depends on besides the data; None when it must be rendered.

    Only what the request says: the user's language and time zone are in the data (a change
    moves the generations), and "today" is within the quarter-hour of UTC in the key (every
    time zone's midnight falls on one), so a kept page never outlives the day it was drawn on.
    """
    if request.method != "GET" or "_flashes" in session:
        return None
    headers = request.headers
    parts = (
        request.endpoint,
        login_id,  # the user, their session version, this login
        request.full_path,
        headers.get("HX-Request"),
        headers.get("HX-History-Restore-Request"),
        headers.get("HX-Target"),
        headers.get("Accept-Language"),
        int(time.time() // QUARTER_HOUR_S),
        # The page's forms carry this session's CSRF token: only this session gets them again.
        # (A session without one yet gets one from a page that has forms: that page is not kept.)
        session.get("csrf_token"),
    )
    digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    return f"{current_app.config['RQ_QUEUE_PREFIX']}hm:page:{digest}"


def serve_early():
    """Before the login check: a kept page of a @kept_page view, still up to date, served as is.

    The login is checked without the database: its id is well formed and young enough, and the
    page was rendered for this very login; any change to the user since (deactivated, signed
    out everywhere, a new role or language) moved the generations, so the page is out of date
    and the request goes the whole way. Returns None to let it.
    """
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "kept_page", False) or _seconds() <= 0:
        return None
    login = _login()
    if login is None:
        return None
    login_id, user_id = login
    key = _key(login_id)
    if key is None:
        return None
    generations, stored = changes.read(user_id, also=key)
    g.page_generations = generations  # the view's rendering is checked against them
    if generations is None or stored is None:
        return None
    return _replay(stored, generations)


def kept_page(view):
    """Serve the view's page from Redis while nothing it shows has changed; keep it otherwise.

    Pages still up to date are served before the login check (`serve_early`); this keeps the
    pages the view renders.
    """

    @wraps(view)
    def serve(*args, **kwargs):
        login = _login() if _seconds() > 0 else None
        if login is None:
            return view(*args, **kwargs)
        login_id, user_id = login
        key = _key(login_id)
        if key is None:
            return view(*args, **kwargs)
        generations = g.pop("page_generations", None) or changes.read(user_id)[0]
        if generations is None:
            return view(*args, **kwargs)
        token = session.get("csrf_token")
        response = make_response(view(*args, **kwargs))
        if session.get("csrf_token") != token:  # a token made for this page: the key lacks it
            return response
        # Kept only if nothing moved the generations while it was rendered (a write then
        # could be missing from it, or be one the page's own request made).
        if _keepable(response) and changes.read(user_id)[0] == generations:
            _keep(key, response, generations)
        return response

    serve.kept_page = True  # type: ignore[attr-defined]  # what serve_early looks for
    return serve


def _keepable(response) -> bool:
    return (
        isinstance(response, Response)
        and response.status_code == 200
        and not response.is_streamed
        and not response.direct_passthrough
        and "Set-Cookie" not in response.headers
        and "_flashes" not in session
    )


def _keep(key: str, response: Response, generations: tuple[bytes, bytes]) -> None:
    """Store the page: a JSON head (generations, status, headers, lengths), the body, its gzip."""
    from webapp.queues import get_redis

    body = response.get_data()
    nonce = g.get("csp_nonce")
    if len(body) > MAX_PAGE_BYTES or (nonce and nonce.encode() in body):
        return
    gzipped = b""
    if response.mimetype in COMPRESSIBLE and len(body) >= MIN_GZIP_BYTES:
        gzipped = gzip.compress(body, compresslevel=6, mtime=0)
    head = {
        "generations": [part.decode() for part in generations],
        "status": response.status_code,
        "headers": [(k, v) for k, v in response.headers.items() if k.lower() not in _NOT_KEPT_HEADERS],
        "body": len(body),
    }
    try:
        get_redis().set(key, json.dumps(head).encode() + b"\n" + body + gzipped, ex=_seconds())
    except RedisError as error:
        log.warning("page not kept: %s", error)


def _replay(stored: bytes, generations: tuple[bytes, bytes]) -> Response | None:
    """The kept page as a new response; None if it is out of date."""
    newline = stored.index(b"\n")
    head = json.loads(stored[:newline])
    if tuple(part.encode() for part in head["generations"]) != generations:
        return None
    start = newline + 1
    body, gzipped = stored[start : start + head["body"]], stored[start + head["body"] :]
    if gzipped and request.accept_encodings["gzip"]:
        response = Response(gzipped, status=head["status"], headers=head["headers"])
        response.headers["Content-Encoding"] = "gzip"
        response.vary.add("Accept-Encoding")
        return response
    return Response(body, status=head["status"], headers=head["headers"])


def forget_all() -> int:
    """Delete every kept page of this deployment (an erase: one may show the erased mail); how many."""
    from webapp.queues import get_redis

    redis = get_redis()
    removed = 0
    try:
        batch = []
        for key in redis.scan_iter(match=f"{current_app.config['RQ_QUEUE_PREFIX']}hm:page:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                removed += redis.delete(*batch)
                batch = []
        if batch:
            removed += redis.delete(*batch)
    except RedisError:  # they are out of date already (the erase moved the generations) and expire
        log.warning("could not delete the kept pages after an erase", exc_info=True)
    return removed
