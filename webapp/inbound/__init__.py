"""Inbound entry points: the signed webhook, the SMTP/LMTP listener and the importer."""

from flask import Blueprint

bp = Blueprint("inbound", __name__)

from webapp.inbound import routes  # noqa: E402, F401
