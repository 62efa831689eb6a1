"""A small HTML tree for assertions: find elements by tag, class and attributes, read their text.

Built on the stdlib parser, so a test asserts what the page means (this input's value, that
row's subject) and not how the template happens to order its attributes.
"""

from collections.abc import Callable, Iterator
from html.parser import HTMLParser

# Elements that never have content or an end tag.
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

Match = str | bool | Callable[[str], bool]


class Element:
    def __init__(self, tag: str, attrs: dict[str, str], parent: "Element | None" = None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element | str] = []

    def __repr__(self) -> str:
        return f"<{self.tag} {self.attrs}>"

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.attrs.get(name, default)

    @property
    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()

    @property
    def text(self) -> str:
        """The text inside, whitespace collapsed as a browser shows it."""
        return " ".join(self._strings().split())

    @property
    def own_text(self) -> str:
        """The text directly inside, not in child elements: a label without its hint."""
        return " ".join("".join(c for c in self.children if isinstance(c, str)).split())

    def _strings(self) -> str:
        return "".join(c if isinstance(c, str) else c._strings() for c in self.children)

    def iter(self) -> Iterator["Element"]:
        """Every element below this one, in document order."""
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, class_: str | None = None, **attrs: Match) -> list["Element"]:
        """Elements with this tag, this class among theirs, and attributes that match.

        An attribute matches a string by equality, True by being present, or a predicate;
        `data_folder` means `data-folder`.
        """
        wanted = {name.rstrip("_").replace("_", "-"): match for name, match in attrs.items()}
        return [
            e
            for e in self.iter()
            if (tag is None or e.tag == tag)
            and (class_ is None or class_ in e.classes)
            and all(_matches(e.attrs.get(name), match) for name, match in wanted.items())
        ]

    def find(self, tag: str | None = None, class_: str | None = None, **attrs: Match) -> "Element | None":
        """The first element `find_all` would give, or None."""
        found = self.find_all(tag, class_, **attrs)
        return found[0] if found else None

    def one(self, tag: str | None = None, class_: str | None = None, **attrs: Match) -> "Element":
        """The one element that matches; fails the test when there is none or several."""
        found = self.find_all(tag, class_, **attrs)
        assert len(found) == 1, f"expected one {tag or ''}.{class_ or ''}{attrs}, found {len(found)}"
        return found[0]


def _matches(value: str | None, match: Match) -> bool:
    if match is True:
        return value is not None
    if value is None:
        return False
    return match(value) if callable(match) else value == match


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#document", {})

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {name: value or "" for name, value in attrs}, self.current)
        self.current.children.append(element)
        if tag not in VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, {name: value or "" for name, value in attrs}, self.current))

    def handle_endtag(self, tag):
        # Close up to the matching open element; a stray end tag is ignored, as browsers do.
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Element:
    """The document (or fragment) as a tree; its root holds the top-level elements."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root
