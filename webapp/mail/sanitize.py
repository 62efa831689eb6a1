"""Allow-list sanitising of untrusted email HTML (nh3), and safe linkifying of plain text.

The sanitised HTML is shown in a sandboxed iframe (no scripts) whose own CSP forbids remote
loads; the sanitiser is the first wall, not the only one.
"""

import re
from typing import NamedTuple

import nh3
from markupsafe import Markup, escape

ALLOWED_TAGS = {
    "a",
    "abbr",
    "acronym",
    "address",
    "article",
    "b",
    "bdi",
    "bdo",
    "big",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "dd",
    "del",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "font",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "mark",
    "ol",
    "p",
    "pre",
    "q",
    "s",
    "samp",
    "section",
    "small",
    "span",
    "strike",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
}
# Dropped with everything inside: code, styles, foreign content and embedded documents.
DROPPED_WITH_CONTENT = {
    "script",
    "style",
    "title",
    "template",
    "svg",
    "math",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "noembed",
    "noframes",
    "xmp",
    "select",
    "textarea",
}
ALLOWED_ATTRIBUTES = {
    "*": {"align", "valign", "width", "height", "title", "dir", "lang", "bgcolor", "color", "style"},
    "a": {"href", "name"},
    "img": {"src", "alt", "border", "hspace", "vspace"},
    "font": {"face", "size"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "td": {"colspan", "rowspan", "nowrap"},
    "th": {"colspan", "rowspan", "nowrap", "scope"},
    "table": {"border", "cellpadding", "cellspacing"},
    "col": {"span"},
    "colgroup": {"span"},
}
# Inline CSS properties that can neither load anything nor escape their box (no url(),
# no position/z-index overlays, no transforms).
ALLOWED_STYLE_PROPERTIES = {
    "background-color",
    "border",
    "border-bottom",
    "border-bottom-color",
    "border-bottom-style",
    "border-bottom-width",
    "border-collapse",
    "border-color",
    "border-left",
    "border-left-color",
    "border-left-style",
    "border-left-width",
    "border-radius",
    "border-right",
    "border-right-color",
    "border-right-style",
    "border-right-width",
    "border-spacing",
    "border-style",
    "border-top",
    "border-top-color",
    "border-top-style",
    "border-top-width",
    "border-width",
    "color",
    "direction",
    "display",
    "font",
    "font-family",
    "font-size",
    "font-style",
    "font-variant",
    "font-weight",
    "height",
    "letter-spacing",
    "line-height",
    "margin",
    "margin-bottom",
    "margin-left",
    "margin-right",
    "margin-top",
    "max-width",
    "min-height",
    "min-width",
    "padding",
    "padding-bottom",
    "padding-left",
    "padding-right",
    "padding-top",
    "table-layout",
    "text-align",
    "text-decoration",
    "text-indent",
    "text-transform",
    "vertical-align",
    "white-space",
    "width",
    "word-break",
    "word-spacing",
}
# nh3 checks every URL attribute against one scheme list; _filter_attribute narrows it per tag.
URL_SCHEMES = {"http", "https", "mailto", "cid", "data"}
LINK_REL = "noopener noreferrer nofollow"

_LINK_SCHEMES = ("http:", "https:", "mailto:")
_INLINE_IMAGE = re.compile(r"(?:cid:|data:image/(?:png|gif|jpe?g|webp)[;,])", re.I)
_REMOTE_IMAGE = re.compile(r"https?://", re.I)
# Anything in a style value that could fetch, run or hide a trick behind CSS escapes/comments.
_UNSAFE_STYLE = re.compile(r"url\s*\(|image|expression|behavior|binding|@|\\|/\*|javascript", re.I)
# An attribute value that looks like markup: a mutation-XSS attempt (or junk), never needed.
_MARKUP_IN_VALUE = re.compile(r"<\s*[/!?a-z]", re.I)
_SCHEME_NOISE = re.compile(r"[\x00-\x20\x7f]+")


class SanitizedHtml(NamedTuple):
    html: str
    blocked_images: int  # remote images removed because the user has not asked to show them


def _normalised_url(value: str) -> str:
    """The URL as a browser would read its scheme: no whitespace or control characters, lower."""
    return _SCHEME_NOISE.sub("", value).lower()


def sanitize(html: str | None, allow_remote_images: bool = False) -> SanitizedHtml:
    """HTML with nothing executable left (no scripts, handlers, forms, styles sheets, foreign
    content) and, unless allowed, no remote images; plus how many remote images were removed."""
    blocked = 0

    def filter_attribute(tag: str, attr: str, value: str) -> str | None:
        nonlocal blocked
        if _MARKUP_IN_VALUE.search(value):
            return None
        if attr == "style":
            return None if _UNSAFE_STYLE.search(value) else value
        if tag == "a" and attr == "href":
            return value if _normalised_url(value).startswith(_LINK_SCHEMES) else None
        if tag == "img" and attr == "src":
            url = _normalised_url(value)
            if _INLINE_IMAGE.match(url):
                return value
            if _REMOTE_IMAGE.match(url):
                if allow_remote_images:
                    # The page CSP allows https: images only (as browsers upgrade mixed content).
                    return "https:" + value.strip().split(":", 1)[1] if url.startswith("http:") else value
                blocked += 1
            return None
        return value

    cleaned = nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=filter_attribute,
        filter_style_properties=ALLOWED_STYLE_PROPERTIES,
        url_schemes=URL_SCHEMES,
        url_relative="deny",  # a relative URL would resolve against our own origin
        link_rel=LINK_REL,
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
    return SanitizedHtml(cleaned, blocked)


def sanitize_html(html: str | None, allow_remote_images: bool = False) -> str:
    """The sanitised HTML alone (see `sanitize`)."""
    return sanitize(html, allow_remote_images).html


def count_remote_images(html: str | None) -> int:
    """How many remote images `sanitize_html` removes from this HTML while images are blocked."""
    return sanitize(html).blocked_images


_LINKABLE = re.compile(
    r"(?P<url>\bhttps?://[^\s<>\"'`\x00-\x1f\x7f]+)"
    r"|(?P<email>\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b)",
    re.I,
)
_TRAILING = ".,;:!?)]}*"


def _trim_url(url: str) -> str:
    """Drop trailing punctuation that ends the sentence, keeping a closing parenthesis that
    balances one inside the URL (https://en.wikipedia.org/wiki/Foo_(bar))."""
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def linkify_text(text: str | None) -> Markup:
    """Plain text, escaped, with its http(s) URLs and email addresses made into safe links."""
    out, pos = [], 0
    text = text or ""
    for match in _LINKABLE.finditer(text):
        found = match.group()
        if match.group("url"):
            found = _trim_url(found)
            href = found
            if len(found) <= len(match.group("url").split("://", 1)[0]) + 3:
                continue  # nothing after the scheme
        else:
            href = "mailto:" + found
        start = match.start()
        out.append(escape(text[pos:start]))
        out.append(Markup('<a href="{}" rel="{}" target="_blank">{}</a>').format(href, LINK_REL, found))
        pos = start + len(found)
    out.append(escape(text[pos:]))
    return Markup("").join(out)
