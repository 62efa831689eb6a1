"""Email templates: personal ones for each user, shared ones that admins keep for the team."""

from flask import Blueprint

bp = Blueprint("mailtemplates", __name__, url_prefix="/templates")

from webapp.mailtemplates import routes  # noqa: E402, F401
