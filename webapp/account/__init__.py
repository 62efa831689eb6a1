"""Each user's own settings: name, signature, time zone, language, password."""

from flask import Blueprint

bp = Blueprint("account", __name__)

from webapp.account import routes  # noqa: E402, F401
