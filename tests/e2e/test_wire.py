"""Bytes a real browser receives for the inbox: a first visit with an empty cache, a second visit
(the fingerprinted assets come from the cache, unasked), and a folder swap. Goals of issue 12:
< 60 KB, < 15 KB, and a swap < 20% of the first visit. docs/benchmarks.md has the figures."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_keyboard import ready
from tests.e2e.test_layout import VIEWPORTS, log_in

pytestmark = pytest.mark.e2e


class Received:
    """Sums the bytes of every response (headers and body as sent) while it listens."""

    def __init__(self, page):
        self.responses: list[tuple[str, int]] = []
        page.on("requestfinished", self._finished)

    def _finished(self, request):
        sizes = request.sizes()
        # What came over the network; Chrome says 0 for a response taken from its cache.
        self.responses.append((request.url, max(0, sizes["responseBodySize"] + sizes["responseHeadersSize"])))

    def take(self) -> tuple[int, list[str]]:
        """The bytes received since the last take, and the URLs that came over the network."""
        total = sum(size for _, size in self.responses)
        urls = [url for url, size in self.responses if size]
        self.responses = []
        return total, urls


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_the_inbox_is_light_on_the_wire(demo, new_page, size, artifacts):
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, "rita@demo.test")
    page.context.new_cdp_session(page).send("Network.clearBrowserCache")
    received = Received(page)

    page.goto("/mail/inbox")
    ready(page)
    page.wait_for_load_state("networkidle")
    first, first_urls = received.take()
    assert any("/static/vendor/htmx" in url for url in first_urls)
    assert first < 60 * 1024, first

    page.goto("/mail/inbox")
    ready(page)
    page.wait_for_load_state("networkidle")
    second, second_urls = received.take()
    assert [url for url in second_urls if "/static/" in url] == []  # all from the cache, unasked
    assert second < 15 * 1024, second

    page.goto("/mail/inbox")
    ready(page)
    received.take()
    if size == "phone":
        page.click("[data-menu]")
    page.click('#folder-nav a[data-folder="candidates"]')
    expect(page.locator("#message-list")).to_have_attribute("data-folder", "candidates")
    page.wait_for_load_state("networkidle")
    swap, _ = received.take()
    assert swap < 0.2 * first, (swap, first)
    (artifacts / f"wire-{size}.txt").write_text(f"first {first} B, second {second} B, folder swap {swap} B\n")
    assert log.problems == []
