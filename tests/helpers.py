"""Small assertions shared by the tests."""

import re


def row_subjects(html: str) -> list[str]:
    """The subjects of the conversation rows in a list page or fragment, in order."""
    rows = re.findall(r'<li id="thread-row-\d+".*?</li>', html, flags=re.S)
    subjects = []
    for row in rows:
        m = re.search(
            r'<span class="row-subject">(?:<span class="unread-dot"[^>]*></span>)?(.*?)</span>', row, re.S
        )
        subjects.append(m.group(1).strip() if m else "")
    return subjects


def unread_count(html: str, slug: str) -> int:
    """The unread badge of a folder in the nav (0 when there is none)."""
    m = re.search(rf'data-folder="{re.escape(slug)}".*?</a>', html, flags=re.S)
    assert m, f"folder {slug} not in the nav"
    count = re.search(r'<span class="count"[^>]*>(\d+)</span>', m.group(0))
    return int(count.group(1)) if count else 0
