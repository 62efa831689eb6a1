"""htmx comes from the CDN tag (with its integrity hash) and falls back to the local copy."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browse import log_in, marker, set_marker, url_is

pytestmark = pytest.mark.e2e


def test_unreachable_cdn_falls_back_to_the_pinned_copy(app, page, browser_log, demo):
    app.config["HTMX_CDN"] = True
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        log_in(page, "rita@demo.test")
        html = page.content()
        assert 'src="https://unpkg.com/htmx.org@2.0.11/dist/htmx.min.js" integrity="sha384-' in html
        assert any("unpkg.com" in url for url in requested)  # it tried the CDN (there is no network here)
        assert any("/static/vendor/htmx-2.0.11.min.js?v=" in url for url in requested)  # fingerprinted
        assert page.evaluate("window.htmx && window.htmx.version") == "2.0.11"
        set_marker(page)
        page.locator('#folder-nav a.folder-link[data-folder="sent"]').click()
        expect(page).to_have_url(url_is("/mail/sent"))
        expect(page.locator("#message-list h1")).to_have_text("Sent")
        assert marker(page) == 1  # swapped by htmx, not a page load
    finally:
        app.config["HTMX_CDN"] = False
    # The CDN's own failure is expected offline; nothing else may fail.
    assert [p for p in browser_log.problems if "unpkg.com" not in p] == []
