"""The three-pane mailbox: folders, conversation list, conversation pane."""

from flask import Blueprint

bp = Blueprint("mailbox", __name__)

from webapp.mailbox import actions, body, nav, routes, rows, search  # noqa: E402, F401
