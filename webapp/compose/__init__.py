"""Writing mail: new, reply, reply-all, forward, edit a scheduled message; send now or later."""

from flask import Blueprint

bp = Blueprint("compose", __name__)

from webapp.compose import routes  # noqa: E402, F401
