"""Logs: a request id on every request and log line, the job id in jobs, JSON lines in production."""

import io
import json
import logging

import pytest
from rq import SimpleWorker

from webapp import create_app
from webapp.observability import REQUEST_ID_HEADER, configure_logging
from webapp.queues import get_queue


@pytest.fixture(autouse=True)
def _root_logger_restored():
    """These tests set up logging as processes do: the root logger is put back as it was after each."""
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def json_log():
    """Every log record of the test, as JSON lines in a buffer."""
    buffer = io.StringIO()
    configure_logging("INFO", "json", stream=buffer)
    # The session's migrations ran alembic's fileConfig, which disables the loggers already made.
    logging.getLogger("webapp.request").disabled = False
    return lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]


def app_with(app, **settings):
    """Another app on the test app's settings, changed by `settings`."""
    return create_app({**app.config, **settings})


@pytest.fixture
def production_app(app):
    """The test app's settings with production's logging and one trusted proxy in front.

    Made before `json_log` (fixture order): the app's own logging setup would replace its buffer.
    """
    return app_with(app, LOG_FORMAT="json", PROXY_FIX=1)


def request_lines(json_log) -> list[dict]:
    return [entry for entry in json_log() if entry["logger"] == "webapp.request"]


def test_each_response_carries_a_new_request_id(client):
    first, second = (client.get("/healthz").headers[REQUEST_ID_HEADER] for _ in range(2))
    assert len(first) == 32
    assert first != second


def test_the_proxys_request_id_is_kept(client):
    response = client.get("/healthz", headers={REQUEST_ID_HEADER: "edge-1234.abc"})
    assert response.headers[REQUEST_ID_HEADER] == "edge-1234.abc"


@pytest.mark.parametrize("given", ["has space", "x" * 200, 'quote"', ""])
def test_a_request_id_that_does_not_look_like_one_is_replaced(client, given):
    response = client.get("/healthz", headers={REQUEST_ID_HEADER: given})
    assert response.headers[REQUEST_ID_HEADER] != given
    assert len(response.headers[REQUEST_ID_HEADER]) == 32


def test_a_redirect_to_the_login_page_has_its_request_id_too(client):
    response = client.get("/mail/inbox")
    assert response.status_code == 302
    assert REQUEST_ID_HEADER in response.headers


def test_log_lines_in_a_request_carry_its_id(app, json_log):
    with app.test_request_context("/"):
        from flask import g

        g.request_id = "req-42"
        logging.getLogger("webapp.anything").warning("disk %s", "full", extra={"free_mb": 3})
    [line] = json_log()
    assert line["level"] == "WARNING"
    assert line["logger"] == "webapp.anything"
    assert line["message"] == "disk full"
    assert line["request_id"] == "req-42"
    assert line["free_mb"] == 3
    assert "job_id" not in line
    assert line["time"].endswith("+00:00")


def test_an_exception_is_logged_in_its_line(json_log):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("webapp.x").exception("it failed")
    [line] = json_log()
    assert line["message"] == "it failed"
    assert "ValueError: boom" in line["exception"]


def log_in_a_job(word: str) -> None:
    """A job that logs (run by the worker below)."""
    logging.getLogger("webapp.jobs.test").info("job says %s", word)


def test_log_lines_in_a_job_carry_its_id(app, redis, json_log):
    with app.app_context():
        queued = get_queue("default").enqueue(log_in_a_job, "hello")
        SimpleWorker([get_queue("default")], connection=redis).work(burst=True)
    said = [line for line in json_log() if line["message"] == "job says hello"]
    assert [line["job_id"] for line in said] == [queued.id]


def test_production_logs_each_request_as_one_json_line(production_app, json_log):
    response = production_app.test_client().get("/healthz", headers={REQUEST_ID_HEADER: "abc-1"})
    [line] = request_lines(json_log)
    assert line["message"] == "GET /healthz 200"
    assert line["request_id"] == "abc-1" == response.headers[REQUEST_ID_HEADER]
    assert line["status"] == 200
    assert line["duration_ms"] >= 0


def test_locally_requests_are_not_logged_by_the_app(client, json_log):
    client.get("/healthz")
    assert request_lines(json_log) == []


FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(production_app, json_log):
    production_app.test_client().get("/healthz", headers=FORWARDED)
    assert request_lines(json_log)[0]["remote_addr"] == "203.0.113.7"


@pytest.fixture
def proxyless_app(app):
    return app_with(app, LOG_FORMAT="json")


def test_without_proxy_fix_a_forwarded_address_is_ignored(proxyless_app, json_log):
    proxyless_app.test_client().get("/healthz", headers=FORWARDED)
    assert request_lines(json_log)[0]["remote_addr"] == "127.0.0.1"
