"""Bulk email: one text to many candidates, a separate message each, with a progress view."""

from flask import Blueprint

bp = Blueprint("bulk", __name__, url_prefix="/bulk")

from webapp.bulk import routes  # noqa: E402, F401
