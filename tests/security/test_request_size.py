"""Request size: every route refuses a body over MAX_CONTENT_LENGTH with 413 and a clear page,
before reading it; compose (attachments) and the inbound webhook take more."""

import io

import pytest

MB = 1024 * 1024


@pytest.fixture
def rita(make):
    return make.user("Rita Recruiter")


class Endless(io.RawIOBase):
    """A body that would never end: reading it all would take the worker forever."""

    def __init__(self):
        self.read_bytes = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=0):
        return 0  # the test client notes the start; the body has no end to seek to

    def readinto(self, buffer):
        buffer[:] = b"x" * len(buffer)
        self.read_bytes += len(buffer)
        return len(buffer)


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]
)
def test_an_anonymous_gigabyte_is_refused_unread(client, content_type):
    body = Endless()
    response = client.post(
        "/login",
        input_stream=body,
        content_type=content_type,
        environ_overrides={"CONTENT_LENGTH": str(1024 * MB)},
    )
    assert response.status_code == 413
    assert body.read_bytes == 0


def test_the_413_page_says_what_is_allowed(app, client, auth, rita):
    auth.login(rita.email)
    response = client.post(
        "/templates/new",
        data={"name": "x" * (2 * MB)},
        headers={"X-CSRFToken": auth.csrf_token("/mail/inbox")},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "413 · Too large" in html
    assert "larger than this page accepts (1 MB at most)" in html


def test_compose_takes_attachments_up_to_its_own_limit(app, client, auth, rita):
    auth.login(rita.email)
    token = auth.csrf_token("/compose")
    files = {"attachments": (io.BytesIO(b"%PDF" + b"0" * (3 * MB)), "cv.pdf"), "csrf_token": token}
    # 3 MB: over the default limit, within compose's: the form answers (here: no recipient).
    response = client.post("/compose", data=files, content_type="multipart/form-data")
    assert response.status_code == 422
    big = {"attachments": (io.BytesIO(b"0" * (21 * MB)), "big.pdf"), "csrf_token": token}
    response = client.post("/compose", data=big, content_type="multipart/form-data")
    assert response.status_code == 413
    assert "(20 MB at most)" in response.get_data(as_text=True)


def test_the_webhook_takes_messages_up_to_the_inbound_limit(app, client):
    assert app.config["INBOUND_MAX_REQUEST_BYTES"] == app.config["INBOUND_MAX_BYTES"] == 25 * MB
    # Over the default limit but within the inbound one: the signature is checked (here: missing).
    response = client.post("/inbound/raw", data=b"Subject: x\r\n\r\n" + b"y" * (2 * MB))
    assert response.status_code == 401
    body = Endless()
    response = client.post(
        "/inbound/raw",
        input_stream=body,
        content_type="message/rfc822",
        environ_overrides={"CONTENT_LENGTH": str(26 * MB)},
    )
    assert response.status_code == 413
    assert body.read_bytes == 0


def test_every_route_has_a_limit(app):
    from webapp.request_limits import limit_for

    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            assert limit_for(rule.endpoint) is not None, rule.endpoint
            assert limit_for(rule.endpoint) <= 30 * MB, rule.endpoint


def _nginx_setting(conf: str, name: str) -> str:
    import re

    found = re.findall(rf"^\s*{name}\s+([^;]+);", conf, flags=re.M)
    assert found, f"deploy/nginx.conf sets no {name}"
    return found[0].strip()


def _seconds(value: str) -> int:
    return int(value.rstrip("s"))


def test_the_proxy_buffers_requests_and_cuts_slow_clients_off(app):
    """Slow clients wait on nginx, never on gunicorn (docs/deploy.md)."""
    import runpy

    from webapp.config import ROOT

    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    gunicorn = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert _nginx_setting(conf, "proxy_request_buffering") == "on"
    assert _seconds(_nginx_setting(conf, "client_header_timeout")) <= 15
    assert _seconds(_nginx_setting(conf, "client_body_timeout")) <= 30
    assert _seconds(_nginx_setting(conf, "proxy_read_timeout")) > gunicorn["timeout"]
    body_mb = int(_nginx_setting(conf, "client_max_body_size").rstrip("m"))
    largest = max(app.config["COMPOSE_MAX_REQUEST_BYTES"], app.config["INBOUND_MAX_REQUEST_BYTES"])
    assert body_mb * MB >= largest  # the app's own 413 page shows, not nginx's
    assert gunicorn["limit_request_field_size"] <= 8190
