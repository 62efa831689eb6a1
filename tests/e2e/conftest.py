"""Browser fixtures: the session app served on a real port, Debian's Chromium driven by Playwright.

Every test under tests/e2e is marked `e2e` (`pytest -m e2e` runs only these, `-m "not e2e"` skips
them). When /usr/bin/chromium or the playwright package is missing, the tests are skipped.
"""

import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 850}
E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    """Mark the tests of this folder `e2e` (this hook sees the whole session's items)."""
    for item in items:
        if E2E_DIR in Path(item.path).resolve().parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def live_server(app):
    """The session `app` served by a threaded werkzeug server on a free port; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, launched once for the session."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed: browser tests skipped")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    playwright = sync_api.sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@dataclass
class BrowserLog:
    """What went wrong in a page: console errors, uncaught exceptions, failed same-origin requests."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc}" == self.origin

    def watch(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("requestfailed", self._on_request_failed)
        page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        if message.type == "error":
            location = message.location or {}
            self.console_errors.append(f"{message.text} ({location.get('url', '')})")

    def _on_request_failed(self, request) -> None:
        if not self._same_origin(request.url):
            self.external_requests.append(request.url)
            return
        if "/favicon" in request.url and "ERR_ABORTED" in (request.failure or ""):
            return  # the browser's own icon fetch, cancelled by the test's next navigation
        self.failed_requests.append(f"{request.method} {request.url}: {request.failure}")

    def _on_response(self, response) -> None:
        if not self._same_origin(response.url):
            self.external_requests.append(response.url)
            return
        if response.status >= 400:
            self.failed_requests.append(f"{response.request.method} {response.url}: HTTP {response.status}")

    @property
    def problems(self) -> list[str]:
        return self.console_errors + self.page_errors + self.failed_requests


@pytest.fixture
def new_page(browser, live_server):
    """Open a page in a fresh browser context: `new_page(locale="fr-FR")` -> (page, log)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=5_000)
    contexts = []

    def _new_page(**context_options):
        options = {"viewport": VIEWPORT, "base_url": live_server, "locale": "en-US", **context_options}
        context = browser.new_context(**options)
        context.set_default_timeout(5_000)
        context.set_default_navigation_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        log = BrowserLog(origin=live_server)
        log.watch(page)
        return page, log

    yield _new_page
    for context in contexts:
        context.close()


@pytest.fixture
def page_and_log(new_page):
    return new_page()


@pytest.fixture
def page(page_and_log):
    """A page in a fresh context (1400x850, English), its problems recorded in `browser_log`."""
    return page_and_log[0]


@pytest.fixture
def browser_log(page_and_log) -> BrowserLog:
    return page_and_log[1]


@pytest.fixture(scope="session")
def demo_snapshot(tmp_path_factory):
    """The demo as the first test that wants it loaded it (see tests/e2e/demo_snapshot.py)."""
    from tests.e2e.demo_snapshot import DemoSnapshot

    return DemoSnapshot(tmp_path_factory.mktemp("demo-blobs"))


@pytest.fixture
def demo(app, demo_snapshot):
    """The demo team and mail (emptied after the test by the autouse `db` fixture): loaded once a
    session through the real paths, put back as it was for each later test."""
    with app.app_context():
        demo_snapshot.load()
