"""Site-wide views: health, readiness and metrics probes, language choice, the login guard, error pages."""

from flask import Blueprint

bp = Blueprint("main", __name__)

from webapp.main import routes  # noqa: E402, F401
