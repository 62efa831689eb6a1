"""A walk through every screen at a phone's and a desktop's width, in English and in French: the
sign-in, each folder, a conversation and the longest thread, compose, reply, forward, send later,
a draft, bulk email, templates, settings, the mailbox settings, a candidate's and an offer's page,
search, and the admin pages. On each: nothing wider than the screen, and in French no English
word of the interface left. Screenshots: test-artifacts/walk-<locale>-<size>-<screen>.png."""

import re

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.test_layout import VIEWPORTS, log_in, page_width, scrolling_sideways, wider_than_screen
from webapp.extensions import db
from webapp.models import BulkSend, Candidate, Offer

pytestmark = pytest.mark.e2e

# Words of the interface that French never uses: one of them in a French screen is an untranslated
# string (what people wrote - subjects, bodies, names, job titles - is left out before looking).
ENGLISH = re.compile(
    r"\b(the|and|your|with|you|Inbox|Sent|Drafts|Reply|Forward|Send|Settings|Search|Cancel|Save|"
    r"Delete|Templates|Sign out|Loading|Select|unread|Back|Edit|Preview|Tomorrow|Monday|Archived|"
    r"Followed|Incoming|Remove|Show|Hide|New|Password|Users|Offers|Queues|Retention|Now|Follow|"
    r"Convert|Find|Mark|Bold|Italic|Link|Plain text|Formatted|Subject|To:|Attachments|When)\b"
)
# What the users wrote or named (the demo's mail is in English): not the interface's words.
THEIRS = (
    ".message-body, .row-snippet, .row-subject, .row-from, .thread-subject, .thread-meta, "
    ".draft-preview, .chip, .timeline, .whoami, .text-body, .html-body, option, .candidate-name, "
    "h1, .compose-preview, .template-item, .template-body, td, .muted, textarea, "
    # A receiving server's own words on a failed delivery (the user sees them in plain words above).
    ".server-words"
)


def interface_text(page: Page) -> str:
    """The page's visible text without what people wrote (subjects, bodies, names)."""
    return page.evaluate(
        """theirs => {
          const copy = document.body.cloneNode(true);
          const skipped = theirs + ', script, style, [hidden], .visually-hidden';
          copy.querySelectorAll(skipped).forEach(e => e.remove());
          return copy.innerText;
        }""",
        THEIRS,
    )


class Walk:
    """Visits screens, keeps a screenshot of each and what was wrong with it."""

    def __init__(self, page: Page, artifacts, name: str, french: bool):
        self.page, self.artifacts, self.name, self.french = page, artifacts, name, french
        self.problems: list[str] = []

    def look(self, screen: str, url: str | None = None) -> None:
        if url is not None:
            self.page.goto(url)
        self.page.wait_for_load_state("networkidle")
        width = self.page.viewport_size["width"]
        if page_width(self.page) > width or wider_than_screen(self.page) or scrolling_sideways(self.page):
            self.problems.append(
                f"{screen}: {page_width(self.page)} px wide {wider_than_screen(self.page)[:3]} "
                f"{scrolling_sideways(self.page)}"
            )
        if self.french:
            lines = [line for line in interface_text(self.page).splitlines() if ENGLISH.search(line)]
            if lines:
                self.problems.append(f"{screen}: English left {lines[:6]}")
        self.page.screenshot(path=str(self.artifacts / f"walk-{self.name}-{screen}.png"), full_page=True)


def ids(app) -> dict:
    """The demo's pages to visit: a candidate's, an offer's, a bulk send's (if any)."""
    with app.app_context():
        return {
            "candidate": db.session.scalar(select(Candidate.id).order_by(Candidate.id).limit(1)),
            "offer": db.session.scalar(
                select(Offer.id).where(Offer.kind == "job").order_by(Offer.id).limit(1)
            ),
            "bulk": db.session.scalar(select(BulkSend.id).limit(1)),
        }


@pytest.mark.parametrize("locale", ["en-US", "fr-FR"])
@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_screen_fits_and_speaks_one_language(app, demo, redis, new_page, artifacts, size, locale):
    page, log = new_page(viewport=VIEWPORTS[size], locale=locale)
    walk = Walk(page, artifacts, f"{locale[:2]}-{size}", french=locale == "fr-FR")
    found = ids(app)
    walk.look("login", "/login")
    log_in(page, "rita@demo.test")
    folders = page.locator("#folder-nav a.folder-link[data-folder]").evaluate_all(
        "links => links.map(a => a.dataset.folder)"
    )
    for slug in folders:
        walk.look(f"folder-{slug}", f"/mail/{slug}")
    page.goto("/mail/candidates")
    counts = page.locator("#message-list li.row").evaluate_all(
        "rows => rows.map(r => [Number((r.querySelector('.row-count') || {}).textContent || 1),"
        " r.dataset.thread])"
    )
    walk.look("long-thread", f"/mail/candidates/{max(counts)[1]}")
    long_thread = page.url
    # "Why is this here?" opened on each message: the classifier's reasons, in the page's language.
    page.locator("#message-pane section.message").evaluate_all(
        "sections => sections.forEach(s => s.querySelectorAll('details').forEach(d => { d.open = true; }))"
    )
    expect(page.locator("details.why p").first).to_be_visible()
    walk.look("long-thread-why")
    for action in ("Reply", "Forward"):
        page.goto(long_thread)
        page.locator("#message-pane section.message").last.get_by_role(
            "button",
            name=re.compile({"Reply": "^(Reply|Répondre)$", "Forward": "^(Forward|Transférer)$"}[action]),
        ).click()
        expect(page.locator("#compose-form")).to_be_visible()
        walk.look(action.lower())
    walk.look("compose", "/compose")
    page.locator("#preset").select_option("custom")
    walk.look("send-later")
    page.goto("/mail/drafts")
    page.locator("#message-list li.row a.row-link").first.click()
    expect(page.locator("#compose-form")).to_be_visible()
    walk.look("draft")
    page.goto("/mail/candidates")
    if size == "desktop":
        page.locator("#message-list li.row").first.hover()
    page.locator(".select-toggle").click()
    page.locator("#message-list li.row .row-pick").first.check()
    walk.look("bulk-pick")
    walk.look("bulk-new", "/bulk/new")
    if found["bulk"]:
        walk.look("bulk-page", f"/bulk/{found['bulk']}")
    walk.look("templates", "/templates/")
    walk.look("template-new", "/templates/new")
    walk.look("settings", "/settings")
    walk.look("mailbox-settings", "/settings/mailbox")
    walk.look("candidate", f"/candidates/{found['candidate']}")
    walk.look("offer", f"/offers/{found['offer']}")
    walk.look("search", "/search?q=call")
    expect(page.locator("#folder-nav [aria-current=page]")).to_have_count(0)  # all folders: none is current
    page.context.clear_cookies()
    log_in(page, "ada@demo.test")
    for screen in ("users", "offers", "audit", "queues", "quarantine", "retention"):
        walk.look(f"admin-{screen}", f"/admin/{screen}")
    (artifacts / f"walk-{walk.name}.txt").write_text("\n".join(walk.problems + log.problems))
    assert walk.problems == []
    assert log.problems == []
