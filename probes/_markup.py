"""Reading portal markup with lxml alone: trees, simple selector steps, feeds, and text as BeautifulSoup gave it.

The news parser moved here from BeautifulSoup, which cost most of its CPU. The text rules are bs4's
`get_text` over its lxml builder, because observations and failure reasons recorded before must read alike
(tests/test_news_markup.py holds a record of both): no comments or processing instructions; no text inside
<script>, <style>, <template>, <rt>, <rp> (unless that is the element read); a run of ASCII whitespace alone
between two tags is one space or one newline, except under <pre> and <textarea>.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar, cast

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
    def itersiblings(self, *tags: Any, preceding: bool = False) -> Iterator[Element]: ...
    def iter(self, *tags: Any) -> Iterator[Element]: ...
    def __iter__(self) -> Iterator[Element]: ...


# bs4's HTMLTreeBuilder.DEFAULT_STRING_CONTAINERS and DEFAULT_PRESERVE_WHITESPACE_TAGS.
_CONTAINERS = frozenset({"script", "style", "template", "rt", "rp"})
_PRESERVE = frozenset({"pre", "textarea"})
_ASCII_SPACES = " \n\t\x0c\r"

_T = TypeVar("_T")
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
    """Elements under `element` (never itself) in document order, matching `tag.class…`. The contents of a
    <template> under it are not part of the document (soupsieve's rule, as browsers'): the template is found,
    what it holds is not; an element read that is itself a template is entered."""
    found = element.iterdescendants(tag) if tag is not None else element.iterdescendants(etree.Element)
    if next(element.iterdescendants("template"), None) is not None:
        found = (e for e in found if not _in_template(e, element))
    for candidate in found:
        if not wanted or is_(candidate, None, *wanted):
            yield candidate


def children(element: Element) -> Iterator[Element]:
    """The child elements (comments and processing instructions are not elements, as in bs4's find_all)."""
    return element.iterchildren(etree.Element)


def everywhere(root: Element, tag: str | None = None) -> Iterator[Element]:
    """Every element of the document, in document order, outside <template> contents. Markup after </html>
    (or before <html>) is part of it: libxml2 keeps it as the root's siblings, bs4 kept it in its tree."""
    for top in [*reversed(list(root.itersiblings(etree.Element, preceding=True))), root,
                *root.itersiblings(etree.Element)]:  # fmt: skip
        found = top.iter(tag) if tag is not None else top.iter(etree.Element)
        if next(top.iter("template"), None) is not None:
            found = (e for e in found if next(e.iterancestors("template"), None) is None)
        yield from found


def _in_template(element: Element, scope: Element) -> bool:
    """Whether a template lies between `scope` and `element`, under `scope`."""
    for ancestor in element.iterancestors():
        if ancestor is scope:
            return False
        if ancestor.tag == "template":
            return True
    return False


def first(found: Iterator[_T]) -> _T | None:
    return next(found, None)


# --- text ----------------------------------------------------------------------------------------------------------


def text(element: Element, *, strip: bool = False) -> str:
    """bs4's `get_text()` (`strip`: `get_text(strip=True)`, each string stripped, empty ones left out)."""
    wanted = element.tag if element.tag in _CONTAINERS else None
    container = next(element.iterancestors(*_CONTAINERS), None)
    kind = container.tag if container is not None else None
    preserve = next(element.iterancestors(*_PRESERVE), None) is not None
    parts: list[str] = []
    _strings(element, kind, preserve, wanted, strip, parts)
    return "".join(parts)


def _strings(element: Element, kind: str | None, preserve: bool, wanted: str | None, strip: bool,
             parts: list[str]) -> None:  # fmt: skip
    tag = element.tag
    if tag in _CONTAINERS:
        kind = tag
    preserve = preserve or tag in _PRESERVE
    if element.text is not None:
        _add(element.text, kind == wanted, preserve, strip, parts)
    for child in element:
        if isinstance(child.tag, str):
            _strings(child, kind, preserve, wanted, strip, parts)
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


# --- feeds: XML as bs4's XML builder read it ---------------------------------------------------------------------
#
# On broken XML, libxml2's own tree and the tree bs4 built from the same parser's events differ (bs4 closes an
# end tag's most recent open namesake, and ignores an end tag with none), so a feed is built from the events by
# bs4's rules, fed as bs4 fed it: text, in chunks of 512 characters.

_XML_CHUNK = 512  # bs4's LXMLTreeBuilderForXML.CHUNK_SIZE
_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"


class XmlNode:
    """An element of a feed: its local name, its namespace prefix (None: none, as for a default namespace), and
    what it holds in order, elements and strings (comments, processing instructions and doctypes are not
    kept: no text of theirs is ever read)."""

    __slots__ = ("contents", "name", "prefix")

    def __init__(self, name: str, prefix: str | None) -> None:
        self.name = name
        self.prefix = prefix
        self.contents: list[XmlNode | str] = []


class _FeedBuilder:
    """An lxml parser target building XmlNodes as bs4's LXMLTreeBuilderForXML and BeautifulSoup did."""

    def __init__(self) -> None:
        self.document = XmlNode("[document]", None)
        self.stack = [self.document]
        self.open: dict[str, int] = {}
        self.nsmaps: list[dict[str, str | None] | None] = [{_XML_NAMESPACE: "xml"}]
        self.pending: list[str] = []

    def _end_data(self) -> None:
        if self.pending:
            string = "".join(self.pending)
            self.pending = []
            if not string.strip(_ASCII_SPACES):
                string = "\n" if "\n" in string else " "
            self.stack[-1].contents.append(string)

    def _prefix(self, namespace: str | None) -> str | None:
        if namespace is None:
            return None
        for inverted in reversed(self.nsmaps):
            if inverted is not None and namespace in inverted:
                return inverted[namespace]
        return None

    def start(self, tag: str, attrib: Any, nsmap: dict[str | None, str] | None = None) -> None:
        self._end_data()
        if not nsmap and len(self.nsmaps) > 1:
            self.nsmaps.append(None)
        elif nsmap:
            self.nsmaps.append({uri: prefix for prefix, uri in nsmap.items()})
        namespace, name = _split(tag)
        node = XmlNode(name, self._prefix(namespace))
        self.stack[-1].contents.append(node)
        self.stack.append(node)
        self.open[name] = self.open.get(name, 0) + 1

    def end(self, tag: str) -> None:
        self._end_data()
        namespace, name = _split(tag)
        prefix = self._prefix(namespace)
        # The most recent open element of that name is closed, with every element opened after it.
        while len(self.stack) > 1 and self.open.get(name):
            top = self._pop()
            if top.name == name and top.prefix == prefix:
                break
        if len(self.nsmaps) > 1:
            self.nsmaps.pop()

    def _pop(self) -> XmlNode:
        node = self.stack.pop()
        self.open[node.name] -= 1
        return node

    def data(self, data: str) -> None:
        self.pending.append(data)

    def comment(self, text: str) -> None:
        self._end_data()

    def pi(self, target: str, data: str | None = None) -> None:
        self._end_data()

    def doctype(self, *ids: str | None) -> None:
        self._end_data()

    def close(self) -> XmlNode:
        self._end_data()
        return self.document


def _split(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return None, tag


def parse_feed(text: str) -> XmlNode:
    """The document node of an XML text (bs4's `[document]`), whatever the text holds."""
    builder = _FeedBuilder()
    parser = etree.XMLParser(
        target=builder, recover=True
    )  # lxml resolves no external entity, fetches nothing
    text = text.removeprefix("\ufeff")
    try:
        for start in range(0, max(len(text), 1), _XML_CHUNK):
            parser.feed(text[start : start + _XML_CHUNK])
        parser.close()
    except etree.XMLSyntaxError:
        builder.close()  # what was read before the error stands, as it did in bs4's tree
    return builder.document


def feed_elements(node: XmlNode, name: str) -> Iterator[XmlNode]:
    """The elements under `node` named `name` without a prefix, in document order: RSS 2.0's own elements
    (bs4 matched `atom:link` as `link` too)."""
    for child in node.contents:
        if isinstance(child, XmlNode):
            if child.name == name and not child.prefix:
                yield child
            yield from feed_elements(child, name)


def feed_text(node: XmlNode) -> str:
    """bs4's `get_text()` of a feed element: every string under it, in order."""
    parts: list[str] = []
    stack: list[XmlNode | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        else:
            stack.extend(reversed(item.contents))
    return "".join(parts)
