"""Admin pages: the quarantine of inbound mail that could not be classified safely."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from webapp.admin import routes  # noqa: E402, F401
