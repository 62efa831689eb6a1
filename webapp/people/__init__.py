"""People from mail: convert non-candidates, incoming CVs to candidates; candidate and offer pages."""

from flask import Blueprint

bp = Blueprint("people", __name__)

from webapp.people import routes  # noqa: E402, F401
