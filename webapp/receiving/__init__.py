"""Inbound entry points: the signed webhook, the SMTP/LMTP listener and the importer."""

from flask import Blueprint

bp = Blueprint("receiving", __name__)

from webapp.receiving import routes  # noqa: E402, F401
