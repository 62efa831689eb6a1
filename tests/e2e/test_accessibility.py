"""Accessibility of the main screens at a phone's and a desktop's width: axe-core's WCAG 2.1 A/AA
rules (labels, names, contrast, ARIA), and our own checks of the focus order (Tab goes top bar,
folders, list, conversation; never into a hidden drawer) and of a visible focus ring.

axe-core is pinned in package.json and installed with `npm ci` (.ci/run does it); without
node_modules the axe test is skipped, the focus checks still run."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import open_lea
from tests.e2e.test_keyboard import ready
from tests.e2e.test_layout import VIEWPORTS, lea_row, log_in

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Page) -> list[str]:
    """axe-core's violations on the page as it is now, one line each (rule, impact, where)."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE.read_text())  # evaluated by the driver: the page's CSP does not apply
    result = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
    ]


def screens(page: Page, size: str):
    """Walk the main screens, yielding each one's name once it is shown."""
    page.goto("/login")
    yield "login"
    log_in(page, "rita@demo.test")
    ready(page)
    yield "inbox"
    if size == "phone":
        page.click("[data-menu]")
        expect(page.locator("#folder-nav")).to_be_visible()
        yield "menu"
        page.keyboard.press("Escape")
    open_lea(page)
    yield "conversation"
    page.locator("#message-pane [data-key=reply]").last.click()
    expect(page.locator("#compose-form")).to_be_visible()
    yield "compose"
    page.goto("/search?q=lea&folder=all")
    yield "search"
    page.goto(page.locator("#message-list a.row-link").first.get_attribute("href"))
    page.locator("#message-pane .thread-meta a.chip-candidate").click()
    expect(page.locator(".timeline")).to_be_visible()
    yield "candidate"
    page.goto("/templates/")
    yield "templates"


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_main_screens_pass_axe(demo, new_page, artifacts, size):
    if not AXE.exists():
        pytest.skip("axe-core is not installed: run `npm ci` (package.json pins it)")
    page, log = new_page(viewport=VIEWPORTS[size])
    found = {}
    for screen in screens(page, size):
        page.wait_for_load_state("networkidle")
        violations = axe_violations(page)
        if violations:
            found[screen] = violations
            page.screenshot(path=str(artifacts / f"axe-{size}-{screen}.png"))
    (artifacts / f"axe-{size}.txt").write_text("\n".join(f"{k}: {v}" for k, vs in found.items() for v in vs))
    assert found == {}
    assert log.problems == []


def focus_path(page: Page, presses: int) -> list[dict]:
    """Where Tab goes: for each press, the focused element and how it looks."""
    path = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        path.append(
            page.evaluate(
                """() => {
                  const e = document.activeElement;
                  const r = e.getBoundingClientRect();
                  const s = getComputedStyle(e);
                  const zones = 'header.topbar, #folder-nav, #message-list, #message-pane, .list-resizer';
                  const zone = e.closest(zones);
                  const label = (e.textContent || e.value || '').trim().slice(0, 30);
                  return {
                    what: e.tagName + (e.id ? '#' + e.id : '') + ' ' + label,
                    zone: zone ? (zone.id || zone.className.split(' ')[0]) : 'other',
                    shown: r.width > 0 && r.height > 0 && s.visibility !== 'hidden'
                      && r.right > 0 && r.left < innerWidth,
                    ring: (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0)
                      || s.boxShadow !== 'none',
                  };
                }"""
            )
        )
    return path


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_focus_goes_in_reading_order_and_always_shows(demo, new_page, artifacts, size):
    page, log = new_page(viewport=VIEWPORTS[size])
    log_in(page, "rita@demo.test")
    open_lea(page)
    # The pane marks it read by its own POST: let it land before the reload (which would abort it).
    expect(lea_row(page)).not_to_have_class(re.compile(r"\bis-unread\b"))
    page.reload()  # Tab starts again from the top of the page
    ready(page)
    path = [step for step in focus_path(page, 200) if not step["what"].startswith("BODY")]  # past the end
    hidden = [step["what"] for step in path if not step["shown"]]
    assert hidden == [], f"Tab reached what cannot be seen: {hidden}"
    unringed = [step["what"] for step in path if not step["ring"]]
    assert unringed == [], f"no visible focus on: {unringed}"
    # The zones in the order Tab meets them (each once, none skipped).
    zones = [step["zone"] for step in path if step["zone"] != "other"]
    order = [zone for i, zone in enumerate(zones) if i == 0 or zone != zones[i - 1]]
    expected = (
        ["topbar", "message-pane"]  # the folders wait in the closed drawer, the list under the pane
        if size == "phone"
        else ["topbar", "folder-nav", "message-list", "list-resizer", "message-pane"]
    )
    assert order[: len(expected)] == expected, order
    # The menu opens the drawer and focus moves into it; Escape closes it and comes back.
    if size == "phone":
        page.click("[data-menu]")
        expect(page.locator("#folder-nav .folder-link.is-active")).to_be_focused()
        page.keyboard.press("Escape")
        expect(page.locator("[data-menu]")).to_be_focused()
        expect(page.locator("#folder-nav")).not_to_be_visible()
    page.screenshot(path=str(artifacts / f"focus-{size}.png"))
    assert log.problems == []


def test_every_form_field_has_a_name(demo, new_page):
    """Belt and braces beside axe: each input, select and textarea on compose has a label."""
    page, log = new_page(viewport=VIEWPORTS["desktop"])
    log_in(page, "rita@demo.test")
    page.click("#message-list .new-email")
    expect(page.locator("#compose-form")).to_be_visible()
    unnamed = page.locator("input:not([type=hidden]), select, textarea").evaluate_all(
        """els => els.filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                                 && !e.getAttribute('aria-labelledby')).map(e => e.name || e.id)"""
    )
    assert unnamed == []
    assert re.search(r"Hiremail", page.title())
    assert log.problems == []
