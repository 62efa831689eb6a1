"""Fold what a reader of a long thread skims: the quoted earlier mail and the signature.

A body splits into what the sender wrote and the tail that repeats the thread or signs off;
the pane shows the tail behind a "…" button. Nothing is removed, only folded.
"""

import re
from typing import NamedTuple

# A line that starts the quoted copy of an earlier message (English and French clients).
_ATTRIBUTION = re.compile(r"^\s*(On\s.{4,300}\swrote\s?:|Le\s.{4,300}\sa\s[ée]crit\s?:)\s*$", re.IGNORECASE)
# A line that starts a copy of an earlier message without quote marks (Outlook, forwards).
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Message d'origine|Forwarded message|Message transf[ée]r[ée])\s*-{2,}"
    r"|_{16,})\s*$",
    re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^--\s?$")  # RFC 3676's "-- " (many clients drop the trailing space)
# In sanitised HTML (classes and ids are gone): a blockquote, or a "-- " signature line.
_HTML_TAIL = re.compile(r"<blockquote\b|(?<=>)--\s?<br\b", re.IGNORECASE)


class FoldedText(NamedTuple):
    main: str
    folded: str  # "" when there is nothing to fold


def _is_quote(line: str) -> bool:
    return line.lstrip().startswith(">")


def _tail_start(lines: list[str]) -> int | None:
    """The index of the first line of the foldable tail, if any."""
    for i, line in enumerate(lines):
        bare = line.rstrip("\r\n")
        if _SIGNATURE.match(bare) or _SEPARATOR.match(bare):
            return i
        # "On … wrote:" (perhaps wrapped over two lines) counts only when a quote follows.
        for span in (1, 2):
            said = " ".join(part.strip() for part in lines[i : i + span])
            following = [rest for rest in lines[i + span :] if rest.strip()]
            if bare.strip() and _ATTRIBUTION.match(said) and following and _is_quote(following[0]):
                return i
        # A quote block that runs to the end (a reply written between quotes stays open).
        if _is_quote(bare) and all(_is_quote(rest) or not rest.strip() for rest in lines[i:]):
            return i
    return None


def fold_text(text: str | None) -> FoldedText:
    """Split a plain-text body into what was written and the quoted or signed tail."""
    text = text or ""
    lines = text.splitlines(keepends=True)
    start = _tail_start(lines)
    if start is None:
        return FoldedText(text, "")
    main = "".join(lines[:start]).rstrip()
    if not main:  # a body that is all quote shows it all
        return FoldedText(text, "")
    return FoldedText(main, "".join(lines[start:]).strip("\r\n"))


def fold_html(html: str, label: str) -> str:
    """Sanitised HTML with its quoted or signed tail inside <details> (a "…" button, no script).

    `html` must already be sanitised: what is inserted here is fixed markup, and the label is
    escaped. The HTML parser closes the <details> where the tail's parent element ends.
    """
    match = _HTML_TAIL.search(html)
    if match is None or not re.sub(r"<[^>]*>|&nbsp;|\s", "", html[: match.start()]):
        return html
    safe_label = label.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    opening = f'<details class="hm-fold"><summary title="{safe_label}" aria-label="{safe_label}">…</summary>'
    return f"{html[: match.start()]}{opening}{html[match.start() :]}</details>"
