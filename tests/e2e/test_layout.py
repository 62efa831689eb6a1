"""The layout at a phone's, a tablet's and a desktop's width: one pane at a time on a phone, two on
a tablet, three on a desktop; nothing wider than the screen; a dense, resizable list; long
threads folded. Each step leaves a screenshot in test-artifacts/ (looked at when it changes)."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import PASSWORD
from webapp.demo import DEMO_PASSWORD

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
DESKTOP = {"width": 1440, "height": 900}
VIEWPORTS = {"phone": PHONE, "desktop": DESKTOP}
LEA_SUBJECT = "Application for Backend Engineer"


def log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/mail/inbox$"))
    page.wait_for_load_state("load")  # a goto before the scripts arrive would abort them


def page_width(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def wider_than_screen(page: Page) -> list[str]:
    """Visible elements that stick out of the viewport (tables scroll inside their own box)."""
    return page.evaluate(
        """() => {
          const out = [];
          for (const e of document.querySelectorAll('body *')) {
            const r = e.getBoundingClientRect();
            const hidden = getComputedStyle(e).visibility === 'hidden';
            if (!r.width || r.right <= innerWidth + 1 || hidden) continue;
            if (e.closest('table, .row-text, .rows, [hidden]')) continue;
            let clipped = false;
            for (let p = e.parentElement; p; p = p.parentElement) {
              const style = getComputedStyle(p);
              const inside = p.getBoundingClientRect().right <= innerWidth + 1;
              if (style.overflowX !== 'visible' && inside) { clipped = true; break; }
            }
            if (!clipped) out.push(`${e.tagName}.${e.className} right=${Math.round(r.right)}`);
          }
          return out;
        }"""
    )


def scrolling_sideways(page: Page) -> list[str]:
    """The page's own panes that would scroll sideways (a table may, inside its own box)."""
    return page.locator("main, .list, .pane, .folders").evaluate_all(
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.tagName + '.' + e.className)"
    )


def assert_fits(page: Page) -> None:
    width = page.viewport_size["width"]
    assert page_width(page) <= width, f"page is {page_width(page)} px wide: {wider_than_screen(page)[:5]}"
    assert wider_than_screen(page) == []
    assert scrolling_sideways(page) == []


def lea_row(page: Page):
    return page.locator("#message-list li.row").filter(has=page.locator(".row-subject", has_text=LEA_SUBJECT))


def test_phone_shows_one_pane_at_a_time(demo, new_page, artifacts):
    page, log = new_page(viewport=PHONE)
    log_in(page, "rita@demo.test")
    # The list alone: the folders wait behind the menu button, the empty pane is not shown.
    expect(page.locator("#message-list")).to_be_visible()
    expect(page.locator("#folder-nav")).not_to_be_visible()
    expect(page.locator("#message-pane")).not_to_be_visible()
    expect(page.locator("[data-menu]")).to_be_visible()
    assert_fits(page)
    page.screenshot(path=str(artifacts / "layout-phone-list.png"))

    # The menu opens the folders (and the account menu); a folder closes it again.
    page.click("[data-menu]")
    expect(page.locator("#folder-nav")).to_be_visible()
    expect(page.locator("#account-menu")).to_be_visible()
    expect(page.locator("[data-menu]")).to_have_attribute("aria-expanded", "true")
    page.screenshot(path=str(artifacts / "layout-phone-menu.png"))
    page.click('#folder-nav a[data-folder="candidates"]')
    expect(page).to_have_url(re.compile(r"/mail/candidates$"))
    expect(page.locator("#folder-nav")).not_to_be_visible()
    expect(page.locator("#message-list")).to_have_attribute("data-folder", "candidates")

    # A row: the conversation alone, with a back arrow to the list.
    lea_row(page).locator("a.row-link").click()
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    expect(page.locator("#message-list")).not_to_be_visible()
    expect(page.locator("#message-pane .back-link")).to_be_visible()
    assert_fits(page)
    page.screenshot(path=str(artifacts / "layout-phone-conversation.png"))
    page.click("#message-pane .back-link")
    expect(page).to_have_url(re.compile(r"/mail/candidates$"))
    expect(page.locator("#message-list")).to_be_visible()
    expect(page.locator("#message-pane")).not_to_be_visible()

    # Compose takes the whole screen (no top bar); Cancel brings the list back.
    page.click("#message-list .new-email")
    expect(page.locator("#compose-form")).to_be_visible()
    expect(page.locator("header.topbar")).not_to_be_visible()
    expect(page.locator("#message-list")).not_to_be_visible()
    assert_fits(page)
    page.screenshot(path=str(artifacts / "layout-phone-compose.png"))
    page.locator("#compose-form .compose-actions a", has_text="Cancel").click()
    expect(page.locator("#message-list")).to_be_visible()
    assert log.problems == []


def test_tablet_keeps_two_panes_and_desktop_three(demo, new_page, artifacts):
    page, log = new_page(viewport=TABLET)
    log_in(page, "rita@demo.test")
    page.goto("/mail/candidates")
    lea_row(page).locator("a.row-link").click()
    expect(page.locator("#message-pane h1.thread-subject")).to_have_text(LEA_SUBJECT)
    expect(page.locator("#message-list")).to_be_visible()
    expect(page.locator("#message-pane")).to_be_visible()
    expect(page.locator("#folder-nav")).not_to_be_visible()
    expect(page.locator("#message-pane .back-link")).not_to_be_visible()
    assert_fits(page)
    page.screenshot(path=str(artifacts / "layout-tablet.png"))

    page, log = new_page(viewport=DESKTOP)
    log_in(page, "rita@demo.test")
    page.goto("/mail/candidates")
    lea_row(page).locator("a.row-link").click()
    for pane in ("#folder-nav", "#message-list", "#message-pane"):
        expect(page.locator(pane)).to_be_visible()
    expect(page.locator("[data-menu]")).not_to_be_visible()
    expect(page.locator("#message-pane .back-link")).not_to_be_visible()
    assert_fits(page)
    page.screenshot(path=str(artifacts / "layout-desktop.png"))
    assert log.problems == []


SCREENS = [
    ("inbox", "/mail/inbox"),
    ("search", "/search?q=lea&folder=all"),
    ("compose", "/compose?folder=inbox"),
    ("candidate", "candidate"),
    ("offer", "offer"),
    ("templates", "/templates/"),
    ("bulk", "/bulk/new"),
    ("admin-queues", "/admin/queues"),
    ("admin-users", "/admin/users"),
    ("admin-offers", "/admin/offers"),
    ("admin-quarantine", "/admin/quarantine"),
]


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_screen_fits_the_width(demo, app, new_page, artifacts, size):
    from webapp.models import Candidate, Offer

    with app.app_context():
        candidate_id = Candidate.query.filter_by(first_name="Léa").one().id
        offer_id = Offer.query.filter_by(title="Backend Engineer (Python)").one().id
    page, log = new_page(viewport=VIEWPORTS[size])
    page.goto("/login")
    assert_fits(page)
    page.screenshot(path=str(artifacts / f"fit-{size}-login.png"))
    log_in(page, "ada@demo.test")
    page.goto("/mail/candidates")
    screens = [*SCREENS, ("conversation", lea_row(page).locator("a.row-link").get_attribute("href"))]
    for name, url in screens:
        url = {"candidate": f"/candidates/{candidate_id}", "offer": f"/offers/{offer_id}"}.get(url, url)
        response = page.goto(url)
        assert response.status == 200, url
        # Let lazy loads (older rows, frames) finish: the next goto would abort them.
        page.wait_for_load_state("networkidle")
        assert_fits(page)
        page.screenshot(path=str(artifacts / f"fit-{size}-{name}.png"), full_page=True)
    assert log.problems == []


def test_the_list_is_dense_and_resizable(demo, new_page, artifacts):
    page, log = new_page(viewport=DESKTOP)
    log_in(page, "rita@demo.test")
    page.goto("/mail/candidates")
    rows = page.locator("#message-list li.row")
    expect(rows.nth(15)).to_be_attached()
    # 15 or more conversations fully in view at 1440x900, two lines each, no SVG in any row.
    visible = page.evaluate(
        """() => {
          const list = document.getElementById('message-list').getBoundingClientRect();
          const bottom = Math.min(list.bottom, innerHeight);
          return [...document.querySelectorAll('#message-list li.row')]
            .filter(r => r.getBoundingClientRect().bottom <= bottom).length;
        }"""
    )
    assert visible >= 15, f"only {visible} conversations in view"
    heights = rows.evaluate_all("rows => rows.map(r => r.getBoundingClientRect().height)")
    assert max(heights) <= 56
    assert page.locator("#message-list li.row svg").count() == 0
    page.screenshot(path=str(artifacts / "density-desktop.png"))

    # Drag the handle 120 px to the right: the list widens, and stays so after a reload.
    before = page.locator("#message-list").bounding_box()["width"]
    handle = page.locator("[data-resizer]").bounding_box()
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + 300
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 60, y, steps=4)
    page.mouse.move(x + 120, y, steps=4)
    page.mouse.up()
    after = page.locator("#message-list").bounding_box()["width"]
    assert abs(after - (before + 120)) <= 4, (before, after)
    page.reload()
    expect(page.locator("#message-list li.row").first).to_be_visible()
    assert abs(page.locator("#message-list").bounding_box()["width"] - after) <= 4
    # The keyboard moves it too (arrow keys on the focused handle).
    page.focus("[data-resizer]")
    page.keyboard.press("ArrowLeft")
    assert page.locator("#message-list").bounding_box()["width"] < after - 10
    page.screenshot(path=str(artifacts / "density-desktop-resized.png"))

    # On a phone the handle is gone and the rows still fit.
    phone, phone_log = new_page(viewport=PHONE)
    log_in(phone, "rita@demo.test")
    phone.goto("/mail/candidates")
    expect(phone.locator("[data-resizer]")).not_to_be_visible()
    assert_fits(phone)
    phone.screenshot(path=str(artifacts / "density-phone.png"))
    assert log.problems == []
    assert phone_log.problems == []


QUOTED_HTML = (
    "<p>Thanks Rita, Tuesday at 10:00 suits me.</p><p>Best, Ines</p>"
    "<div><div>On Mon, Rita wrote:</div><blockquote><p>Would Tuesday work?</p>"
    "<p>The rest of a long earlier message that nobody needs to read again.</p></blockquote></div>"
)
QUOTED_TEXT = "Sounds good, see you then.\nIvo\n\nOn Tue, Rita wrote:\n> Shall we meet at 10?\n> Rita\n"


@pytest.fixture
def long_thread(make):
    """Rita and a seven-message conversation with Ines: replies, then a text and an HTML one quoting."""
    job = make.offer("Designer")
    rita = make.user("Rita Recruiter", offers=[job])
    ines = make.candidate("Ines Ivo", offers=[job])
    thread = make.thread("Portfolio review", candidate=ines, offer=job)
    make.message(thread, candidate=ines, to_users=[rita])
    for n in range(4):
        make.message(thread, direction="outbound", candidate=ines, sender=rita, body_text=f"Reply {n}")
    make.message(thread, candidate=ines, to_users=[rita], body_text=QUOTED_TEXT)
    make.message(thread, candidate=ines, to_users=[rita], body_html=QUOTED_HTML)
    return rita.email, thread.id


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_long_thread_opens_on_its_newest_message(long_thread, new_page, artifacts, size):
    email, thread_id = long_thread
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, email, PASSWORD)
    page.goto(f"/mail/inbox/{thread_id}")
    folds = page.locator("#message-pane details.message-fold")
    expect(folds).to_have_count(7)
    # Read messages fold to one line each; the newest is open.
    open_states = folds.evaluate_all("ds => ds.map(d => d.open)")
    assert open_states == [False] * 6 + [True]
    line = folds.nth(0).locator("summary.message-line")
    assert line.bounding_box()["height"] <= 40
    # The HTML body: its quote folded behind "…", the frame as tall as its content (no gap).
    frame = page.locator("iframe.html-body")
    body = page.frame_locator("iframe.html-body").locator("body")
    expect(body).to_contain_text("Tuesday at 10:00 suits me")
    expect(body.locator("blockquote")).not_to_be_visible()
    page.wait_for_function(
        "() => { const f = document.querySelector('iframe.html-body');"
        " return f.contentDocument && Math.abs(f.getBoundingClientRect().height"
        " - f.contentDocument.body.getBoundingClientRect().height) <= 3; }"
    )
    assert frame.bounding_box()["height"] < 150
    assert_fits(page)
    page.screenshot(path=str(artifacts / f"thread-{size}-folded.png"), full_page=True)

    # "…" opens the quote inside the frame, and the frame grows with it.
    closed_height = frame.bounding_box()["height"]
    body.locator("details.hm-fold > summary").click()
    expect(body.locator("blockquote")).to_be_visible()
    page.wait_for_function(
        "h => document.querySelector('iframe.html-body').getBoundingClientRect().height > h",
        arg=closed_height + 20,
    )
    # A folded text message opens on a click; its quote and signature wait behind "…".
    folds.nth(5).locator("summary.message-line").click()
    text_message = folds.nth(5)
    expect(text_message.locator(".text-body").first).to_have_text(
        re.compile(r"^Sounds good, see you then.\s+Ivo$")
    )
    expect(text_message.get_by_text("Shall we meet at 10?")).not_to_be_visible()
    text_message.locator("details.quoted > summary").click()
    expect(text_message.get_by_text("Shall we meet at 10?")).to_be_visible()
    # "Expand all" opens the rest.
    page.click("[data-expand-all]")
    assert folds.evaluate_all("ds => ds.every(d => d.open)")
    page.screenshot(path=str(artifacts / f"thread-{size}-expanded.png"), full_page=True)
    assert log.problems == []
