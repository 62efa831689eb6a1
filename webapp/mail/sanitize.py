"""Allow-list sanitising of untrusted email HTML (nh3); the result is shown in a sandboxed iframe."""

import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd",
    "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img",
    "ins", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "*": {"align", "valign", "width", "height", "title", "dir", "lang", "bgcolor", "color"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "font": {"face", "size", "color"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "table": {"border", "cellpadding", "cellspacing"},
}
# Remote images are not fetched: only inline (cid:) and embedded data survive for <img>.
URL_SCHEMES = {"http", "https", "mailto", "cid"}


def _filter_attribute(tag: str, attr: str, value: str) -> str | None:
    if tag == "img" and attr == "src" and not value.lower().startswith(("cid:", "data:image/")):
        return None
    return value


def sanitize_html(html: str) -> str:
    """HTML with nothing executable left: no scripts, handlers, forms, styles or remote loads."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES | {"data"},
        attribute_filter=_filter_attribute,
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
        strip_comments=True,
    )
