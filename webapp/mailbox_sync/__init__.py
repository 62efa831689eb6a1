"""Settings > Mailbox: connect a user's own IMAP mailbox for sync, test it, see how its sync fares."""

from flask import Blueprint

bp = Blueprint("mailbox_sync", __name__, url_prefix="/settings", cli_group="mailbox")

from webapp.mailbox_sync import cli, labels, oauth_routes, routes, shared_routes  # noqa: E402, F401
