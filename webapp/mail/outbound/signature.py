"""A user's signature: plain text, or a little rich text (bold, italic, links) with its plain twin.

The rich signature is what the user typed in the settings editor, cleaned by nh3 with a narrow
allow-list; the plain twin is derived from it (a link reads "text <url>"), so the text part of a
message says what the HTML part says. Outgoing mail stays plain text unless the body still ends
with the user's rich signature: then it gets an HTML part too, with the signature formatted.
"""

import re
from html.parser import HTMLParser

import nh3
from markupsafe import Markup

from webapp.mail.sanitize import linkify_text

# What the editor can make (execCommand bold/italic/createLink, line breaks): nothing else survives.
_TAGS = {"a", "b", "strong", "i", "em", "u", "br", "div", "p", "span"}
_FORMATTING = re.compile(r"<(?:a|b|strong|i|em|u)[\s>]", re.I)
_BLOCKS = {"div", "p"}
SEPARATOR = "-- "


def _href(tag: str, attr: str, value: str) -> str | None:
    if tag == "a" and attr == "href":
        return value if re.match(r"\s*(https?:|mailto:)", value, re.I) else None
    return value


def clean(html: str) -> str:
    """The signature HTML with nothing but the editor's formatting and http(s)/mailto links."""
    return nh3.clean(
        html or "",
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes={"a": {"href"}},
        attribute_filter=_href,
        url_schemes={"http", "https", "mailto"},
        url_relative="deny",
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


class _Text(HTMLParser):
    """Plain text of the cleaned HTML: blocks and <br> become line breaks, a link "text <url>"."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.href: str | None = None
        self.link_text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "br" or tag in _BLOCKS and self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")
        elif tag == "a":
            self.href, self.link_text = dict(attrs).get("href") or "", []

    def handle_endtag(self, tag):
        if tag in _BLOCKS and self.parts and not self.parts[-1].endswith("\n"):
            self.parts.append("\n")
        elif tag == "a" and self.href is not None:
            text = "".join(self.link_text)
            url = self.href.removeprefix("mailto:")
            self.parts.append(text if not url or url == text.strip() else f"{text} <{url}>")
            self.href = None

    def handle_data(self, data):
        (self.link_text if self.href is not None else self.parts).append(data)


def as_text(html: str) -> str:
    """The plain-text twin of a cleaned signature."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [line.rstrip() for line in "".join(parser.parts).replace("\xa0", " ").splitlines()]
    return "\n".join(lines).strip()


def from_editor(html: str) -> tuple[str, str | None]:
    """(plain text, rich HTML or None) from what the settings editor posted.

    HTML with no formatting left (no bold, italic or link) is a plain signature: None.
    """
    cleaned = clean(html)
    text = as_text(cleaned)
    return text, (cleaned if _FORMATTING.search(cleaned) and text else None)


def block(text: str) -> str:
    """The signature as a body ends with it ("-- " on its own line), or nothing."""
    return f"\n\n{SEPARATOR}\n{text}" if text else ""


def _lines_html(text: str) -> Markup:
    """Plain text as HTML: escaped, links made, quoted lines ("> ") grouped in a blockquote."""
    out: list[Markup] = []
    quoted: list[str] = []

    def flush() -> None:
        if quoted:
            inner = Markup("<br>\n").join(linkify_text(line) for line in quoted)
            out.append(Markup("<blockquote>{}</blockquote>\n").format(inner))
            quoted.clear()

    for line in text.split("\n"):
        if line.startswith(">"):
            quoted.append(line[2:] if line.startswith("> ") else line[1:])
            continue
        flush()
        out.append(linkify_text(line) + Markup("<br>\n"))
    flush()
    return Markup("").join(out)


def html_body(body: str, signature_text: str, signature_html: str | None) -> str | None:
    """The HTML part for a message whose text still holds the user's rich signature, else None.

    The text is the message as typed; the signature block in it (the last one) is replaced by the
    formatted signature. No rich signature, or the user took it out: plain text only.
    """
    if not signature_html or not signature_text:
        return None
    body = body.replace("\r\n", "\n")  # as a browser posts a textarea
    marker = block(signature_text).lstrip("\n")
    at = body.rfind(marker)
    if at < 0:
        return None
    before, after = body[:at], body[at + len(marker) :]
    signed = Markup('<div class="signature">{}<br>\n{}</div>\n').format(
        SEPARATOR, Markup(clean(signature_html))
    )
    content = _lines_html(before.rstrip("\n")) + signed
    if after.strip():  # the quoted mail of a reply, the forwarded message
        content += Markup("<br>\n") + _lines_html(after.lstrip("\n"))
    return str(
        Markup(
            '<!doctype html>\n<html><head><meta charset="utf-8"></head>'
            '<body style="font-family:sans-serif;font-size:14px">\n{}</body></html>\n'
        ).format(content)
    )
