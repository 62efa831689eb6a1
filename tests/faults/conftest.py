"""Fixtures of the fault tests (tests/faults/helpers.py says how they work)."""

import pytest

from tests.faults.helpers import PrivateRedis, StallingHandler
from tests.sinks import SmtpSink


@pytest.fixture
def stalling_smtp(app):
    """An SMTP sink that hangs on DATA for subjects with "Stall" in them; the app sends through it."""
    sink = SmtpSink()
    sink.handler = StallingHandler(b"Subject: Stall")
    sink.controller.handler = sink.handler
    sink.start()
    app.config["SMTP_URL"] = sink.url
    yield sink
    app.config["SMTP_URL"] = None
    sink.stop()


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.stop()
