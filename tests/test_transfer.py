"""What crosses the wire (webapp/transfer.py): gzip for text, static files fingerprinted and
cached for a year, and the inbox within its byte budget (bench/wire.py measures the same)."""

import gzip
import re

import pytest

from bench.wire import GOALS, measure
from webapp.transfer import static_hash

GZ = {"Accept-Encoding": "gzip"}


def test_pages_and_assets_are_gzipped_for_clients_that_take_it(client):
    page = client.get("/login", headers=GZ)
    assert page.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in page.headers["Vary"]
    assert "Sign in" in gzip.decompress(page.get_data()).decode()
    plain = client.get("/login")
    assert "Content-Encoding" not in plain.headers
    assert "Sign in" in plain.get_data(as_text=True)

    css = client.get(
        re.search(r'href="(/static/css/app.css[^"]*)"', plain.get_data(as_text=True))[1], headers=GZ
    )
    assert css.headers["Content-Encoding"] == "gzip"
    assert css.headers["ETag"].endswith('-gzip"')
    assert b".mailbox" in gzip.decompress(css.get_data())
    # Images that are already compressed, and tiny answers, are sent as they are.
    assert "Content-Encoding" not in client.get("/healthz", headers=GZ).headers


def test_static_urls_carry_their_hash_and_are_cached_for_a_year(client):
    html = client.get("/login").get_data(as_text=True)
    urls = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert urls
    for url in urls:
        path, _, version = url.partition("?v=")
        assert re.fullmatch(r"[0-9a-f]{10}", version), url
        response = client.get(url)
        assert response.status_code == 200
        assert response.cache_control.max_age == 365 * 24 * 3600, url
        assert response.cache_control.immutable
    # An old hash (or none) is not cached for a year: the file behind it changed.
    stale = client.get("/static/css/app.css?v=0000000000")
    assert stale.cache_control.max_age != 365 * 24 * 3600
    assert client.get("/static/css/app.css").cache_control.max_age != 365 * 24 * 3600


def test_a_changed_file_gets_a_new_hash(tmp_path):
    (tmp_path / "a.css").write_text("body { color: red }")
    first = static_hash(str(tmp_path), "a.css")
    (tmp_path / "a.css").write_text("body { color: blue; }")
    assert static_hash(str(tmp_path), "a.css") not in (None, first)
    assert static_hash(str(tmp_path), "missing.css") is None


@pytest.mark.parametrize(
    ("email", "folder", "swap_to"), [("rita", "inbox", "candidates"), ("ada", "candidates", "inbox")]
)
def test_the_inbox_is_within_its_byte_budget(app, client, auth, email, folder, swap_to):
    from webapp.demo import DEMO_PASSWORD, load_demo

    with app.app_context():
        load_demo()
    auth.login(f"{email}@demo.test", DEMO_PASSWORD)
    figures = measure(client, folder, swap_to)
    assert figures["rows"] >= 40  # a full list, not an empty one
    assert figures["first_visit"] < GOALS["first_visit_kb"] * 1024
    assert figures["second_visit"] < GOALS["second_visit_kb"] * 1024
    assert figures["swap_share"] < GOALS["swap_share"]
