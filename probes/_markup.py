"""Reading portal markup with lxml alone: trees, simple selector steps, and text as BeautifulSoup gave it.

The news parser moved here from BeautifulSoup, which cost most of its CPU. The text rules are bs4's
`get_text` over its lxml builder, because observations and failure reasons recorded before must read alike
(tests/test_news_markup.py holds a record of both): no comments or processing instructions; no text inside
<script>, <style>, <template>, <rt>, <rp> (unless that is the element read); a run of ASCII whitespace alone
between two tags is one space or one newline, except under <pre> and <textarea>.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol, cast

from lxml import etree  # type: ignore[import-untyped]  # no stubs in our dependencies: Element types what we use


class Element(Protocol):
    """The part of lxml's _Element this module and its callers use."""

    tag: Any  # a str for an element; etree.Comment or etree.ProcessingInstruction (functions) otherwise
    text: str | None
    tail: str | None
    prefix: str | None

    def get(self, key: str, default: str | None = None) -> str | None: ...
    def getparent(self) -> Element | None: ...
    def iterancestors(self, *tags: Any) -> Iterator[Element]: ...
    def iterdescendants(self, *tags: Any) -> Iterator[Element]: ...
    def iterchildren(self, *tags: Any) -> Iterator[Element]: ...
    def iter(self, *tags: Any) -> Iterator[Element]: ...
    def __iter__(self) -> Iterator[Element]: ...


# bs4's HTMLTreeBuilder.DEFAULT_STRING_CONTAINERS and DEFAULT_PRESERVE_WHITESPACE_TAGS.
_CONTAINERS = frozenset({"script", "style", "template", "rt", "rp"})
_PRESERVE = frozenset({"pre", "textarea"})
_ASCII_SPACES = " \n\t\x0c\r"

_local = threading.local()  # an lxml parser may not be shared between threads


def _html_parser() -> Any:
    parser = getattr(_local, "html", None)
    if parser is None:
        # As bs4's lxml builder made it (recover, comments kept), the encoding told: the text is already decoded.
        # huge_tree: bs4 fed lxml through a parser target, which has no depth limit; a tree stops at 256 levels and
        # loses the rest of the page. Bodies are bounded before they get here (policy.max_body_bytes).
        parser = etree.HTMLParser(recover=True, encoding="utf-8", huge_tree=True)
        _local.html = parser
    return parser


def _xml_parser() -> Any:
    parser = getattr(_local, "xml", None)
    if parser is None:
        # As bs4's lxml-xml builder makes it (recover); lxml resolves no external entity and fetches nothing.
        parser = etree.XMLParser(recover=True, encoding="utf-8")
        _local.xml = parser
    return parser


def _utf8(text: str) -> bytes:
    # bs4 drops a leading byte order mark from text it is given; a declared charset no longer applies.
    return text.removeprefix("\ufeff").encode("utf-8", "surrogatepass")


def parse_html(text: str) -> Element:
    """The document's root element; an empty <html> for a body with no markup at all."""
    try:
        root = etree.fromstring(_utf8(text), _html_parser())
    except etree.XMLSyntaxError:
        root = None
    return cast(Element, root if root is not None else etree.Element("html"))


def parse_xml(text: str) -> Element | None:
    """The document's root element, or None when nothing in it is XML."""
    try:
        return cast("Element | None", etree.fromstring(_utf8(text), _xml_parser()))
    except etree.XMLSyntaxError:
        return None


# --- selector steps ------------------------------------------------------------------------------------------------


def classes(element: Element) -> list[str]:
    return (element.get("class") or "").split()


def is_(element: Element, tag: str | None, *wanted: str) -> bool:
    """A compound selector: `tag.class1.class2` (tag None: any element)."""
    if tag is not None and element.tag != tag:
        return False
    if wanted:
        have = classes(element)
        return all(c in have for c in wanted)
    return isinstance(element.tag, str)


def within(element: Element, tag: str | None, *wanted: str) -> Element | None:
    """The nearest ancestor matching (the descendant combinator looks past the element read, as CSS does)."""
    for ancestor in element.iterancestors():
        if is_(ancestor, tag, *wanted):
            return ancestor
    return None


def child_of(element: Element, tag: str | None, *wanted: str) -> bool:
    """The child combinator: the parent matches."""
    parent = element.getparent()
    return parent is not None and is_(parent, tag, *wanted)


def descendants(element: Element, tag: str | None = None, *wanted: str) -> Iterator[Element]:
    """Elements under `element` (never itself) in document order, matching `tag.class…`."""
    found = element.iterdescendants(tag) if tag is not None else element.iterdescendants(etree.Element)
    for candidate in found:
        if not wanted or is_(candidate, None, *wanted):
            yield candidate


def children(element: Element) -> Iterator[Element]:
    """The child elements (comments and processing instructions are not elements, as in bs4's find_all)."""
    return element.iterchildren(etree.Element)


def everywhere(root: Element, tag: str | None = None) -> Iterator[Element]:
    """The root and every element under it, in document order."""
    return root.iter(tag) if tag is not None else root.iter(etree.Element)


def first(elements: Iterator[Element]) -> Element | None:
    return next(elements, None)


# --- text ----------------------------------------------------------------------------------------------------------


def text(element: Element, *, strip: bool = False, xml: bool = False) -> str:
    """bs4's `get_text()` (`strip`: `get_text(strip=True)`, each string stripped, empty ones left out); `xml`:
    as its XML builder reads, where no element is special."""
    containers, preserving = (frozenset[str](), frozenset[str]()) if xml else (_CONTAINERS, _PRESERVE)
    wanted = element.tag if element.tag in containers else None
    container = next(element.iterancestors(*containers), None) if containers else None
    kind = container.tag if container is not None else None
    preserve = preserving and next(element.iterancestors(*preserving), None) is not None
    parts: list[str] = []
    _strings(element, kind, bool(preserve), wanted, strip, parts, containers, preserving)
    return "".join(parts)


def _strings(element: Element, kind: str | None, preserve: bool, wanted: str | None, strip: bool,
             parts: list[str], containers: frozenset[str], preserving: frozenset[str]) -> None:  # fmt: skip
    tag = element.tag
    if tag in containers:
        kind = tag
    preserve = preserve or tag in preserving
    if element.text is not None:
        _add(element.text, kind == wanted, preserve, strip, parts)
    for child in element:
        if isinstance(child.tag, str):
            _strings(child, kind, preserve, wanted, strip, parts, containers, preserving)
        # A comment's or processing instruction's own text is never read; the text after it is its parent's.
        if child.tail is not None:
            _add(child.tail, kind == wanted, preserve, strip, parts)


def _add(string: str, read: bool, preserve: bool, strip: bool, parts: list[str]) -> None:
    if not read or not string:
        return
    if strip:
        string = string.strip()
        if string:
            parts.append(string)
        return
    if not preserve and not string.strip(_ASCII_SPACES):
        string = "\n" if "\n" in string else " "
    parts.append(string)


# --- XML, by bs4's names: `prefix:name`, or `name` alone for an element without a prefix --------------------------


def xml_descendants(element: Element, name: str, *, include_self: bool = False) -> Iterator[Element]:
    found = element.iter("{*}" + name) if include_self else element.iterdescendants("{*}" + name)
    return (e for e in found if e.prefix is None)
