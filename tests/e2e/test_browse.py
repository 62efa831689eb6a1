"""Browsing the inbox in a real browser: folders and conversations swap in with htmx, the URL
follows, and back, reload and shared links all land on the same page.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from webapp.demo import DEMO_PASSWORD

pytestmark = pytest.mark.e2e

LEA_SUBJECT = "Application for Backend Engineer"
JONAS_SUBJECT = "Availability for a call"


def url_is(path: str) -> re.Pattern:
    """The page URL ends at exactly `path` (no query string)."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}$")


def log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form; the app lands in the inbox."""
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(url_is("/mail/inbox"))
    # The inbox's list shows at every width (on a phone the folders wait in the closed drawer).
    expect(page.locator("#message-list")).to_have_attribute("data-folder", "inbox")
    expect(page.locator("#message-list")).to_be_visible()


def set_marker(page: Page) -> None:
    """A global that only survives while no full page load happens."""
    page.evaluate("window.__marker = 1")


def marker(page: Page):
    return page.evaluate("window.__marker")


def row(page: Page, subject: str):
    return page.locator("#message-list li.row").filter(
        has=page.locator(".row-subject", has_text=re.compile(rf"^\s*{re.escape(subject)}\s*$"))
    )


def thread_id(row_locator) -> int:
    """The conversation id of a row (`<li id="thread-row-<id>">`)."""
    return int(row_locator.get_attribute("id").removeprefix("thread-row-"))


def subjects(page: Page) -> list[str]:
    return [s.strip() for s in page.locator("#message-list li.row .row-subject").all_inner_texts()]


def unread_count(page: Page, slug: str) -> int:
    """The unread badge of a folder in the nav (0 when it has none)."""
    badge = page.locator(f'#folder-nav a.folder-link[data-folder="{slug}"] span.count')
    return int(badge.inner_text()) if badge.count() else 0


def mark_list_stale(page: Page) -> None:
    page.evaluate("document.getElementById('message-list').dataset.stale = '1'")


def wait_for_fresh_list(page: Page) -> None:
    """Wait until the list marked stale has been replaced (locator waits poll faster than expect)."""
    page.locator("#message-list[data-stale]").wait_for(state="detached")
    page.locator("#message-list").wait_for(state="attached")


def open_folder(page: Page, slug: str) -> None:
    """Click a folder link and wait until its list has replaced the current one (even the same folder)."""
    mark_list_stale(page)
    link = page.locator(f'#folder-nav a.folder-link[data-folder="{slug}"]')
    if link.is_visible():
        link.click()
    else:  # below 1024 px the folders are in the drawer (tests/e2e/test_layout.py opens it): go by URL
        page.goto(f"/mail/{slug}")
    wait_for_fresh_list(page)
    expect(page).to_have_url(url_is(f"/mail/{slug}"))
    expect(page.locator("#message-list")).to_have_attribute("data-folder", slug)


def open_row(page: Page, row_locator) -> int:
    """Click a conversation row and wait for its pane; returns the conversation id."""
    opened = thread_id(row_locator)
    row_locator.locator("a.row-link").click()
    page.locator(f'#message-pane[data-thread="{opened}"]').wait_for(state="attached")
    return opened


def expect_full_page(page: Page, slug: str) -> None:
    """The whole layout is there: top bar, folder nav with its active folder, list, pane."""
    expect(page.locator("header.topbar")).to_be_visible()
    expect(page.locator("#folder-nav a.folder-link[data-folder]")).to_have_count(10)
    expect(page.locator(f'#folder-nav a.folder-link[data-folder="{slug}"]')).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.locator("#message-list")).to_have_attribute("data-folder", slug)
    expect(page.locator("#message-list li.row").first).to_be_visible()
    expect(page.locator("#message-pane")).to_be_attached()


def test_folder_and_conversation_urls_survive_back_reload_and_sharing(
    demo, page: Page, browser_log, artifacts
):
    log_in(page, "rita@demo.test")
    inbox_subjects = subjects(page)
    assert LEA_SUBJECT in inbox_subjects

    # A folder link swaps the list in place and pushes the folder's URL.
    set_marker(page)
    open_folder(page, "candidates")
    expect(page.locator("#message-list .list-head h1")).to_have_text("All candidates")
    expect(page.locator('#folder-nav a.folder-link[data-folder="candidates"]')).to_have_attribute(
        "aria-current", "page"
    )
    expect(page).to_have_title(re.compile(r"^All candidates · Hiremail$"))
    assert subjects(page) != inbox_subjects
    assert marker(page) == 1, "clicking a folder reloaded the whole page"

    # A row opens the conversation in the pane and pushes its URL.
    lea = row(page, LEA_SUBJECT)
    expect(lea).to_have_count(1)
    lea_id = open_row(page, lea)
    expect(page).to_have_url(url_is(f"/mail/candidates/{lea_id}"))
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    expect(page.locator("#message-pane")).to_have_attribute("data-thread", str(lea_id))
    expect(page.locator("#message-pane section.message")).to_have_count(3)
    expect(lea).to_have_class(re.compile(r"\bis-selected\b"))
    assert marker(page) == 1, "opening a conversation reloaded the whole page"
    page.screenshot(path=str(artifacts / "browse-rita.png"))

    # Back: the folder URL again, with its list.
    mark_list_stale(page)
    page.go_back()
    wait_for_fresh_list(page)
    expect(page).to_have_url(url_is("/mail/candidates"))
    expect(page.locator("#message-list")).to_have_attribute("data-folder", "candidates")
    expect(row(page, LEA_SUBJECT)).to_have_count(1)
    expect(page.locator("#message-pane h1.thread-subject")).to_have_count(0)

    # Reload: the server renders the whole page for the pushed URL.
    page.reload()
    expect(page).to_have_url(url_is("/mail/candidates"))
    assert marker(page) is None
    expect_full_page(page, "candidates")

    # A shared link to the conversation, then a reload of it.
    page.goto(f"/mail/candidates/{lea_id}")
    expect_full_page(page, "candidates")
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    page.reload()
    expect(page).to_have_url(url_is(f"/mail/candidates/{lea_id}"))
    expect_full_page(page, "candidates")
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    expect(row(page, LEA_SUBJECT)).to_have_class(re.compile(r"\bis-selected\b"))

    assert browser_log.problems == []


def test_opening_an_unread_conversation_marks_it_read_without_a_reload(demo, page: Page, browser_log):
    log_in(page, "rita@demo.test")
    jonas = row(page, JONAS_SUBJECT)
    expect(jonas).to_have_class(re.compile(r"\bis-unread\b"))
    expect(jonas.locator(".unread-dot")).to_have_count(1)
    before = unread_count(page, "inbox")
    assert before >= 1

    set_marker(page)
    jonas_id = open_row(page, jonas)
    expect(page).to_have_url(url_is(f"/mail/inbox/{jonas_id}"))
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(JONAS_SUBJECT)
    expect(jonas).not_to_have_class(re.compile(r"\bis-unread\b"))
    expect(jonas.locator(".unread-dot")).to_have_count(0)
    inbox_badge = page.locator('#folder-nav a.folder-link[data-folder="inbox"] span.count')
    if before > 1:
        expect(inbox_badge).to_have_text(str(before - 1))
    else:
        expect(inbox_badge).to_have_count(0)
    assert marker(page) == 1, "opening a conversation reloaded the whole page"

    # The server agrees: after a reload the row is still read and the count still lower.
    page.reload()
    expect(row(page, JONAS_SUBJECT)).not_to_have_class(re.compile(r"\bis-unread\b"))
    assert unread_count(page, "inbox") == before - 1
    assert browser_log.problems == []


def test_a_late_mark_read_leaves_the_folder_moved_to_alone(demo, page: Page, browser_log):
    """The pane's mark-read answering after the user moved on updates the folder counts only."""
    log_in(page, "rita@demo.test")
    held = []
    page.route(re.compile(r"/read\?up_to="), lambda route: held.append(route))
    before = unread_count(page, "inbox")
    lea_id = open_row(page, row(page, LEA_SUBJECT))
    for _ in range(100):  # the POST is sent once the pane is shown
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the pane did not ask to mark the conversation read"
    open_folder(page, "sent")  # Léa's conversation is in Sent too
    sent_row = page.locator(f"#message-list #thread-row-{lea_id}")
    sent_row_html = sent_row.evaluate("el => el.outerHTML")
    sent_count = page.locator("#list-unread").inner_text()

    held[0].continue_()
    inbox_badge = page.locator('#folder-nav a.folder-link[data-folder="inbox"] span.count')
    if before > 1:
        expect(inbox_badge).to_have_text(str(before - 1))
    else:
        expect(inbox_badge).to_have_count(0)
    # Sent keeps its own row (not the inbox's, shown as selected) and its own count.
    assert sent_row.evaluate("el => el.outerHTML") == sent_row_html
    assert page.locator("#list-unread").inner_text() == sent_count
    expect(page.locator("#message-list")).to_have_attribute("data-folder", "sent")
    assert browser_log.problems == []
    assert browser_log.console_errors == []


def test_walk_through_every_folder_without_errors(demo, page: Page, browser_log):
    log_in(page, "rita@demo.test")
    set_marker(page)
    slugs = page.locator("#folder-nav a.folder-link[data-folder]").evaluate_all(
        "links => links.map(a => a.dataset.folder)"
    )
    assert slugs == [
        "inbox",
        "sent",
        "scheduled",
        "drafts",
        "candidates",
        "followed-candidates",
        "followed-jobs",
        "non-candidates",
        "archived",
        "incoming-cv",
    ]
    opened = 0
    for slug in slugs:
        open_folder(page, slug)
        first = page.locator("#message-list li.row").first
        if first.count():
            first_id = open_row(page, first)
            expect(page).to_have_url(url_is(f"/mail/{slug}/{first_id}"))
            opened += 1
    assert opened >= 5, "the demo data should fill most of rita's folders"
    mark_list_stale(page)
    page.go_back()
    wait_for_fresh_list(page)  # no history cache: htmx fetches the page again
    expect(page).to_have_url(url_is(f"/mail/{slugs[-1]}"))
    expect(page.locator("#message-list")).to_have_attribute("data-folder", slugs[-1])
    assert marker(page) == 1, "a click in the walk reloaded the whole page"

    assert browser_log.console_errors == []
    assert browser_log.page_errors == []
    assert browser_log.failed_requests == []


def test_french_browser_sees_french_folder_names(make, new_page):
    """No language chosen in the app: the browser's Accept-Language decides."""
    user = make.user("Camille Durand")
    page, log = new_page(locale="fr-FR")
    log_in(page, user.email, PASSWORD)
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    nav = page.locator("#folder-nav")
    expect(nav.locator('a.folder-link[data-folder="inbox"] .folder-name')).to_have_text("Boîte de réception")
    expect(nav.locator('a.folder-link[data-folder="candidates"] .folder-name')).to_have_text(
        "Tous les candidats"
    )
    # Still French after an htmx swap (the nav comes back out of band).
    open_folder(page, "candidates")
    expect(page.locator("#message-list .list-head h1")).to_have_text("Tous les candidats")
    expect(nav.locator('a.folder-link[data-folder="inbox"] .folder-name')).to_have_text("Boîte de réception")
    assert log.problems == []
