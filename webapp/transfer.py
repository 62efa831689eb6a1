"""What crosses the wire: text responses gzipped, static files fingerprinted and cached for a year.

A static URL carries its file's content hash (`/static/css/app.css?v=3f2a9c1d0b`, added by
`url_for`); a response to the URL with the current hash may be kept by browsers and proxies for
a year, since a changed file gets a new URL. Gzip is done here so the app is small on the wire
behind any proxy (or none); the static files' gzipped bytes are kept in memory by hash.
"""

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, request

COMPRESSIBLE = {
    "text/html",
    "text/css",
    "text/plain",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
}
MIN_GZIP_BYTES = 512  # below this the gzip header costs more than it saves
A_YEAR = 365 * 24 * 3600


@lru_cache(maxsize=256)
def _hash_of(path: str, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:10]


def static_hash(static_folder: str, filename: str) -> str | None:
    """The file's content hash (recomputed when it changes on disk); None if there is no file."""
    path = Path(static_folder) / filename
    try:
        stat = path.stat()
    except OSError:
        return None
    return _hash_of(str(path), stat.st_mtime_ns, stat.st_size)


_GZIPPED_STATIC: dict[str, bytes] = {}  # by ETag (which changes with the file); a few files


def _gzipped_static(etag: str, data: bytes) -> bytes:
    if etag not in _GZIPPED_STATIC:
        if len(_GZIPPED_STATIC) > 256:
            _GZIPPED_STATIC.clear()
        _GZIPPED_STATIC[etag] = gzip.compress(data, compresslevel=9, mtime=0)
    return _GZIPPED_STATIC[etag]


def register_transfer(app: Flask) -> None:
    """Fingerprint static URLs, cache them for a year, and gzip what compresses."""
    folder = app.static_folder or ""

    @app.url_defaults
    def fingerprint(endpoint, values):
        if endpoint == "static" and "filename" in values and "v" not in values:
            digest = static_hash(folder, values["filename"])
            if digest:
                values["v"] = digest

    @app.after_request
    def cache_and_compress(response):
        is_static = request.endpoint == "static"
        if is_static and response.status_code in (200, 304):
            filename = (request.view_args or {}).get("filename", "")
            if request.args.get("v") and request.args.get("v") == static_hash(folder, filename):
                response.cache_control.public = True
                response.cache_control.max_age = A_YEAR
                response.cache_control.immutable = True
                response.cache_control.no_cache = None
        return _gzip(response, is_static)


def _gzip(response, is_static: bool):
    """The response gzipped when the client takes gzip and it is text worth compressing."""
    if response.mimetype not in COMPRESSIBLE:
        return response
    response.vary.add("Accept-Encoding")
    if (
        response.status_code != 200
        or not request.accept_encodings["gzip"]
        or "Content-Encoding" in response.headers
        or (response.is_streamed and not response.direct_passthrough)
    ):
        return response
    if response.direct_passthrough:  # a file (send_file): read it once here
        response.direct_passthrough = False
    data = response.get_data()
    if len(data) < MIN_GZIP_BYTES:
        return response
    etag, weak = response.get_etag()
    if is_static and etag:
        compressed = _gzipped_static(etag, data)
    else:
        compressed = gzip.compress(data, compresslevel=6, mtime=0)
    response.set_data(compressed)
    response.headers["Content-Encoding"] = "gzip"
    if etag:  # the gzipped bytes are another representation: another tag
        response.set_etag(f"{etag}-gzip", weak)
    return response
