"""The news probe: each unit's posts on its NukeViet portal, by month and category, reform posts apart.

Walks a unit's category pages (a phòng: its categories of the city portal, plan II.1.e) following
ul.pagination (not <link rel=next>, which NukeViet's cache drops) to the end, or until the posts in
publication order, the featured one left aside, are all older than `news.since`. List dates are read as
printed, with no zone (a byCountry site prints them in its visitor's zone, and caches pages 1-4 for an hour
for whoever came first), so each walk also reads the category's feed (UTC date and hour of its 30 newest
posts) and, for a page of the cache window that the feed does not reach, one article (its time, and the
zone it was rendered in). Posts a list shows without a date (titles-only and grid views) are read from their
article. indicators/news.py decides zones and counts; this module only reads. A redirect to another host is
a moved site, not an empty one; a page in an unknown layout is a parse failure, never zero posts
(docs/news.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

from cchc.settings import Portal, Settings, Unit
from cchc.timeutil import VN_TZ
from crawler import Target, host_key
from probes._base import Found, LayoutNotRecognised, Parsed, SnapshotView
from probes._markup import (
    Element,
    child_of,
    children,
    classes,
    descendants,
    everywhere,
    feed_elements,
    feed_text,
    first,
    is_,
    parse_feed,
    parse_html,
    text,
    within,
)
from probes._probe import Job
from probes._session import CrawlSession
from probes._text import clean, nukeviet_feed_date, parse_count, parse_vn_datetime

NAME = "news"
VERSION = "2"
_POST_ID = re.compile(r"-(\d+)\.html$")
_PAGE = re.compile(r"/page-(\d+)/?$")
# NukeViet caches pages 1-4 of a category (modules/news/funcs/viewcat.php: `$page < 5`), for whoever came first.
CACHED_PAGES = 4
MAX_PAGES = 2000  # a bound on one walk, whatever the pagination says
MAX_ARTICLES = 5000
# Views that list newest first, where a walk may stop once past `since`; viewcat_page_old lists oldest first.
DESCENDING_VIEWS = ("viewcat_page", "viewcat_top", "viewcat_list_new", "viewcat_grid_new", "nukeviet-3")
# Views that show a few posts per subcategory, never the whole list: no walk of them is complete.
PARTIAL_VIEWS = ("viewcat_main", "viewcat_two_column")


def is_reform_post(title: str, category: str, portal: Portal | None, keywords: Sequence[str]) -> bool:
    """On administrative reform: in one of the portal's reform categories, or a keyword (whole words) in the title."""
    if portal is not None and category in portal.cchc_categories:
        return True
    folded = unicodedata.normalize("NFC", title).casefold()
    return any(re.search(r"(?<!\w)" + re.escape(k.casefold()) + r"(?!\w)", folded) for k in keywords)


class _Directory:
    """Portals by host, and each portal's units by the categories they name: built once per settings, so that
    reading a page costs the same with 20 portals configured as with 2,000."""

    def __init__(self, settings: Settings) -> None:
        self.portals: dict[str, Portal] = {}
        for portal in settings.portal:
            self.portals.setdefault(host_key(portal.base_url), portal)  # the first, as a scan would find it
        self.named: dict[tuple[str, str], str] = {}
        self.own: dict[str, str] = {}
        for unit in settings.unit:
            for category in unit.news_categories:
                self.named.setdefault((unit.portal, category), unit.id)
            if not unit.news_categories:
                self.own.setdefault(unit.portal, unit.id)


_directories: dict[int, tuple[Settings, _Directory]] = {}


def _directory(settings: Settings) -> _Directory:
    known = _directories.get(id(settings))
    if known is None or known[0] is not settings:  # an id is reused only once its settings are gone
        if len(_directories) >= 8:
            _directories.clear()
        known = (settings, _Directory(settings))
        _directories[id(settings)] = known
    return known[1]


def portal_of(url: str, settings: Settings) -> Portal | None:
    return _directory(settings).portals.get(host_key(url))


def owner_of(portal: Portal | None, category: str, settings: Settings) -> str | None:
    """The unit whose posts a category holds: a phòng that names it, else the ward whose portal it is."""
    if portal is None:
        return None
    directory = _directory(settings)
    return directory.named.get((portal.id, category)) or directory.own.get(portal.id)


class NewsProbe:
    name = NAME
    version = VERSION

    # --- what to fetch ------------------------------------------------------------------------------------

    def jobs(self, settings: Settings, units: Sequence[Unit]) -> list[Job]:
        jobs: list[Job] = []
        portals_seen: set[str] = set()
        for unit in units:
            portal = settings.portal_by_id(unit.portal)
            for category in unit.news_categories or portal.categories:
                jobs.append(
                    Job(
                        NAME, f"{unit.id}/{category}", partial(self._walk, portal, unit, category), (unit.id,)
                    )
                )
            if portal.id not in portals_seen and not unit.news_categories:
                portals_seen.add(portal.id)
                jobs.append(Job(NAME, f"{unit.id}/rss", partial(self._feed, portal, unit), (unit.id,)))
        # A post listed in a CCHC category too is reform news wherever else it is listed: those categories are
        # walked even when no inspected unit owns them (the city portal's), under the first unit of the portal.
        owners: dict[str, Unit] = {}
        for unit in units:
            owners.setdefault(unit.portal, unit)
        for portal_id, unit in owners.items():
            portal = settings.portal_by_id(portal_id)
            mine = {
                c for u in units if u.portal == portal_id for c in (u.news_categories or portal.categories)
            }
            for category in portal.cchc_categories:
                if category not in mine:
                    jobs.append(Job(NAME, f"{unit.id}/{category}", partial(self._walk, portal, unit, category),
                                    (unit.id,)))  # fmt: skip
        return jobs

    async def _walk(self, portal: Portal, unit: Unit, category: str, session: CrawlSession) -> None:
        feed = Target(url=f"{portal.base_url}{portal.rss_path}{category}/", probe=NAME, unit=unit.id,
                      label=f"{category} rss", conditional=True)  # fmt: skip
        _, parsed_feed = await session.visit(self, feed)
        in_feed = {f.attributes.get("post_id") for f in (parsed_feed.found if parsed_feed else [])}
        since = session.settings.news.since - timedelta(
            days=2
        )  # a foreign zone moves a date by a day at most
        url: str | None = f"{portal.base_url}{portal.news_path}{category}/"
        visited: set[str] = set()
        articles: dict[str, None] = {}  # to read, in order: undated posts, then one post per unchecked page
        previous: str | None = None  # the last date of the list so far, featured posts aside
        in_order = True
        page = 1
        while url is not None and url not in visited and page <= MAX_PAGES:
            visited.add(url)
            target = Target(url=url, probe=NAME, unit=unit.id, label=f"{category} page {page}")
            _, parsed = await session.visit(self, target)
            if parsed is None:
                return  # a failure ends the walk; the months it did not reach stay uncovered
            posts = [f for f in parsed.found if f.metric == "news_post"]
            page_info = next((f for f in parsed.found if f.metric == "news_page"), None)
            if page_info is not None and page_info.attributes.get("view") in PARTIAL_VIEWS:
                return  # a few posts per subcategory: nothing to walk, and the months stay uncovered
            for post in posts:
                if post.attributes["listed"] is None:
                    articles[str(post.attributes["url"])] = None
            dated = [p for p in posts if p.attributes["listed"] is not None]
            # A page of the cache window may be in a foreign zone: its newest and oldest posts' true times (the
            # feed's, else their articles') tell which, summer or winter time included. Later pages are rendered
            # for us, in the zone of any article (articles are never cached): one is read if none was.
            if dated and page <= CACHED_PAGES:
                ends = sorted(dated, key=lambda p: str(p.attributes["listed"]))
                for end in (ends[0], ends[-1]):
                    if end.attributes["post_id"] not in in_feed:
                        articles[str(end.attributes["url"])] = None
            elif dated and page == CACHED_PAGES + 1 and not articles:
                articles[str(dated[-1].attributes["url"])] = None
            listed = [str(p.attributes["listed"]) for p in posts[1:] if p.attributes["listed"] is not None]
            for value in listed:
                in_order = in_order and (previous is None or value <= previous)
                previous = value
            descending = page_info is not None and page_info.attributes.get("view") in DESCENDING_VIEWS
            if (in_order and descending and listed and len(listed) == len(posts) - 1
                    and min(listed)[:10] < since.isoformat()):  # fmt: skip
                break
            url = parsed.next_urls[0] if parsed.next_urls else None
            page += 1
        for article in list(articles)[:MAX_ARTICLES]:
            await session.visit(
                self, Target(url=article, probe=NAME, unit=unit.id, label=f"{category} article")
            )

    async def _feed(self, portal: Portal, unit: Unit, session: CrawlSession) -> None:
        target = Target(
            url=portal.base_url + portal.rss_path, probe=NAME, unit=unit.id, label="rss", conditional=True
        )
        await session.visit(self, target)

    # --- how to read it ----------------------------------------------------------------------------------

    def parse(self, view: SnapshotView, settings: Settings) -> Parsed:
        portal = portal_of(view.url, settings)
        if portal is not None and host_key(view.where) != host_key(portal.base_url):
            return Parsed([_moved(view, portal, settings)])
        body = view.text()
        feed_path = (portal.rss_path if portal else "/vi/news/rss/").rstrip("/")
        if urlsplit(view.url).path.startswith(feed_path) or body.lstrip().startswith("<?xml"):
            return Parsed(_feed_items(view, body, portal, settings))
        root = parse_html(body)
        # An article by its markup, else by its URL (…-<id>.html); a saved file's URL may say neither.
        is_article = any(
            str(e.get("itemtype", "")).endswith("NewsArticle") or e.get("id") == "news_detail"
            for e in everywhere(root)
        )
        if is_article or (_news_route(view.where, portal).endswith(".html") and not _looks_like_a_list(root)):
            return Parsed(_article(view, root, portal, settings))
        return _category_page(view, root, portal, settings)


def _news_route(url: str, portal: Portal | None) -> str:
    """What a news URL names after the module: '<cat>', '<cat>/page-N', '<cat>/<alias>-<id>.html', '' for the
    module home. Reads rewritten paths (/vi/news/…), paths without rewrite rules (/index.php/vi/news/…), and
    query strings (index.php?language=vi&nv=news&op=…); a path without the language segment too."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if "nv" in query or "op" in query:
        return query.get("op", [""])[0].strip("/")
    path = parts.path.removeprefix("/index.php")
    news_path = portal.news_path if portal else "/vi/news/"
    for prefix in (news_path, "/" + news_path.strip("/").split("/")[-1] + "/"):
        if path.startswith(prefix):
            return path[len(prefix) :].strip("/")
    return path.strip("/")


def _category_of(url: str, portal: Portal | None) -> str:
    return _news_route(url, portal).split("/")[0]


def _page_of(url: str) -> int:
    match = _PAGE.search("/" + _news_route(url, None))
    return int(match.group(1)) if match else 1


def _moved(view: SnapshotView, portal: Portal, settings: Settings) -> Found:
    unit = owner_of(portal, _category_of(view.url, portal), settings)
    hops = [status for _, status in view.redirects]
    return Found(
        "news_site_moved",
        "instant",
        unit,
        value=1,
        text=view.where,
        attributes={"from": view.url, "to": view.where, "redirects": hops, "portal": portal.id},
    )


def _category_page(view: SnapshotView, root: Element, portal: Portal | None, settings: Settings) -> Parsed:
    category = _category_of(view.url, portal)
    unit = owner_of(portal, category, settings)
    if category == "":
        return Parsed([_module_home(view, root, unit, portal)])
    requested, served = _page_of(view.url), _page_of(view.where)
    if requested != served:
        # NukeViet answers a page past the last with a 301 to page 1: not more posts, the end of the list.
        return Parsed([_page_found(view, unit, portal, category, requested, [], None, wrapped=True)])
    items, next_url, theme, list_view = _list_items(view, root)
    found: list[Found] = []
    for position, item in enumerate(items):
        found.append(_post(view, item, unit, portal, category, settings, requested, position))
    page = _page_found(
        view, unit, portal, category, requested, found, next_url, theme=theme, list_view=list_view
    )
    return Parsed([*found, page], [next_url] if next_url else [])


# The selectors below are CSS as the default theme's markup reads; each is written out with lxml steps, in the
# semantics of CSS (a descendant combinator looks past the element read; results in document order, once each).


def _in_news_column(element: Element) -> bool:
    return within(element, "div", "news_column") is not None


def _module_home(view: SnapshotView, root: Element, unit: str | None, portal: Portal | None) -> Found:
    """The news module's home (viewcat_main_*, or the newest posts): recognised, never counted, since it shows
    a few posts per category, not all of them."""
    # div.news_column div.panel-heading a[href], div.news_column h2 a[href]
    blocks = [a for a in everywhere(root, "a") if a.get("href") is not None
              and any(_in_news_column(h) for h in _ancestors(a, ("div", "panel-heading"), ("h2",)))]  # fmt: skip
    # div.news_column div.panel-body
    items = [d for d in everywhere(root, "div") if is_(d, "div", "panel-body") and _in_news_column(d)]
    if not blocks and not items:
        raise LayoutNotRecognised(
            "nukeviet-home", view.where, f"no NukeViet news blocks on {host_key(view.where)}"
        )
    return Found("news_home", "instant", unit, value=len(blocks) or len(items),
                 attributes={"portal": portal.id if portal else host_key(view.url)})  # fmt: skip


def _ancestors(element: Element, *compounds: tuple[str, ...]) -> Iterator[Element]:
    """The ancestors of an element that match one of `(tag, class…)`, nearest first."""
    for ancestor in element.iterancestors():
        if any(is_(ancestor, tag, *wanted) for tag, *wanted in compounds):
            yield ancestor


def _panels(root: Element, part: str) -> list[Element]:
    """div.news_column > div.panel > div.<part>"""
    found = []
    for div in everywhere(root, "div"):
        parent = div.getparent()
        if (is_(div, "div", part) and parent is not None and is_(parent, "div", "panel")
                and child_of(parent, "div", "news_column")):  # fmt: skip
            found.append(div)
    return found


def _looks_like_a_list(root: Element) -> bool:
    # div.news_column, div.list-group, #news_list, div.thumbnail
    return any(e.get("id") == "news_list" or (e.tag == "div" and _has_any_class(e, _LIST_CLASSES))
               for e in everywhere(root))  # fmt: skip


_LIST_CLASSES = frozenset({"news_column", "list-group", "thumbnail"})


def _has_any_class(element: Element, wanted: frozenset[str]) -> bool:
    return not wanted.isdisjoint(classes(element))


def _list_items(view: SnapshotView, root: Element) -> tuple[list[dict[str, Any]], str | None, str, str]:
    """The posts of a category page (theme, view), in the order shown, and the next page's URL. Views of the
    4.x default theme (themes/default/modules/news/viewcat_*.tpl): viewcat_page_new/old (panels, each dated),
    viewcat_top (a dated featured post, then undated titles), viewcat_grid_new (a dated featured panel, then
    undated thumbnails), viewcat_list_new (titles only); viewcat_main_* and viewcat_two_column, which show
    a few posts per subcategory (never every post); and the 3.x theme."""
    generator = first(m for m in everywhere(root, "meta") if m.get("name") == "generator")
    generator_text = str(generator.get("content", "")) if generator is not None else ""
    theme = "nukeviet-4.5"
    if _panels(root, "panel-heading"):
        two_column = any(is_(d, "div", "news_column", "two_column") for d in everywhere(root, "div"))
        partial = "viewcat_two_column" if two_column else "viewcat_main"
        # div.news_column div.panel-body h3 > a[href], div.news_column ul.related a[href]
        links = [a for a in everywhere(root, "a") if a.get("href") is not None and (
            (child_of(a, "h3") and any(_in_news_column(b) for b in _ancestors(a, ("div", "panel-body"))))
            or any(_in_news_column(u) for u in _ancestors(a, ("ul", "related"))))]  # fmt: skip
        return [_undated(view, link) for link in links], None, theme, partial
    bodies = _panels(root, "panel-body")
    # div.thumbnail > div.caption h4 > a[href]
    thumbnails = [a for a in everywhere(root, "a") if a.get("href") is not None and child_of(a, "h4")
                  and any(child_of(c, "div", "thumbnail") for c in _ancestors(a, ("div", "caption")))]  # fmt: skip
    # div.list-group > a.show.h4[href]
    titles = [a for a in everywhere(root, "a") if a.get("href") is not None and is_(a, "a", "show", "h4")
              and child_of(a, "div", "list-group")]  # fmt: skip
    if bodies or thumbnails:
        items = [_item_45(view, body) for body in bodies]
        # ul.related a[href], under each body
        top = [a for body in bodies for a in descendants(body, "a")
               if a.get("href") is not None and within(a, "ul", "related") is not None]  # fmt: skip
        items += [_undated(view, link) for link in [*top, *thumbnails]]
        list_view = "viewcat_grid_new" if thumbnails else "viewcat_top" if top else "viewcat_page"
        return items, _next_45(view, root), theme, list_view
    if titles:
        return [_undated(view, link) for link in titles], _next_45(view, root), theme, "viewcat_list_new"
    # #news_list .news-item
    legacy = [e for e in everywhere(root) if "news-item" in classes(e)
              and any(a.get("id") == "news_list" for a in e.iterancestors())]  # fmt: skip
    if legacy:
        items = [_item_3x(view, item) for item in legacy]
        return items, _next_3x(view, root), "nukeviet-3", "nukeviet-3"
    if generator_text.startswith("NukeViet") and _empty_list(root):
        return [], None, theme, "empty"
    raise LayoutNotRecognised(
        "nukeviet-category",
        view.where,
        f"no NukeViet list items (div.news_column > div.panel > div.panel-body, div.list-group > a.show.h4, "
        f"div.thumbnail h4 > a, #news_list .news-item) on {host_key(view.where)}; generator "
        f"{generator_text or 'absent'!r}",
    )


def _empty_list(root: Element) -> bool:
    """An empty category as NukeViet 4.4-4.6 render it: its list container with nothing in it but, perhaps, the
    category's description (div.alert); there is no "no posts" notice."""
    containers = [d for d in everywhere(root, "div") if _has_any_class(d, _EMPTY_CONTAINERS)]
    return bool(containers) and all(
        all(is_(child, "div", "alert") for child in children(c)) for c in containers
    )


_EMPTY_CONTAINERS = frozenset({"news_column", "list-group"})


def _link_of(element: Element, *headings: str) -> Element | None:
    """The first `h2 > a[href]` (or other headings) under an element."""
    return first(a for a in descendants(element, "a")
                 if a.get("href") is not None and any(child_of(a, h) for h in headings))  # fmt: skip


def _title(link: Element) -> str:
    return clean(str(link.get("title") or text(link)))


def _item_45(view: SnapshotView, body: Element) -> dict[str, Any]:
    link = _link_of(body, "h2", "h3")
    # div.text-muted li, under the body
    meta = [li for li in descendants(body, "li") if within(li, "div", "text-muted") is not None]
    clock = next((li for li in meta if first(descendants(li, "em", "fa-clock-o")) is not None), None)
    if link is None or clock is None:
        raise LayoutNotRecognised(
            "nukeviet-category", view.where, "a list item without its title link or clock date"
        )
    views = next((li for li in meta if first(descendants(li, "em", "fa-eye")) is not None), None)
    return {
        "title": _title(link),
        "url": urljoin(view.where, str(link.get("href"))),
        "date": text(clock),
        "views": text(views) if views is not None else None,
        "featured": "featured" in classes(body),
    }


def _undated(view: SnapshotView, link: Element) -> dict[str, Any]:
    """A post a view lists without its date (titles only, grid thumbnails): its date comes from its article."""
    return {"title": _title(link), "url": urljoin(view.where, str(link.get("href"))),
            "date": None, "views": None, "featured": False}  # fmt: skip


def _item_3x(view: SnapshotView, item: Element) -> dict[str, Any]:
    link = _link_of(item, "h3")
    clock = first(descendants(item, "span", "time"))
    if link is None or clock is None:
        raise LayoutNotRecognised(
            "nukeviet-category", view.where, "a 3.x list item without its title link or span.time"
        )
    return {"title": _title(link), "url": urljoin(view.where, str(link.get("href"))),
            "date": text(clock), "views": None, "featured": False}  # fmt: skip


def _next_45(view: SnapshotView, root: Element) -> str | None:
    # ul.pagination li.active, then ul.pagination a[href]
    active = first(li for li in everywhere(root, "li") if "active" in classes(li) and _in_pagination(li))
    if active is None:
        return None
    number = text(active, strip=True)
    wanted = str(int(number) + 1) if number.isdigit() else None
    for link in everywhere(root, "a"):
        if link.get("href") is not None and _in_pagination(link) and text(link, strip=True) == wanted:
            return urljoin(view.where, str(link.get("href")))
    return None


def _in_pagination(element: Element) -> bool:
    return within(element, "ul", "pagination") is not None


def _next_3x(view: SnapshotView, root: Element) -> str | None:
    # .generate_page strong, then .generate_page a[href]
    current = first(s for s in everywhere(root, "strong") if within(s, None, "generate_page") is not None)
    if current is None or not text(current, strip=True).isdigit():
        return None
    wanted = str(int(text(current, strip=True)) + 1)
    link = next((a for a in everywhere(root, "a") if a.get("href") is not None
                 and within(a, None, "generate_page") is not None and text(a, strip=True) == wanted), None)  # fmt: skip
    return urljoin(view.where, str(link.get("href"))) if link is not None else None


def _post(view: SnapshotView, item: dict[str, Any], unit: str | None, portal: Portal | None, category: str,
          settings: Settings, page: int, position: int) -> Found:  # fmt: skip
    listed: datetime | None = None
    if item["date"] is not None:
        try:
            listed = parse_vn_datetime(item["date"])
        except ValueError as exc:
            raise LayoutNotRecognised(
                "nukeviet-category", view.where, f"list date unreadable: {exc}"
            ) from None
    post_id = _POST_ID.search(urlsplit(item["url"]).path)
    views: int | None = None
    if item["views"]:
        try:
            views = parse_count(item["views"])
        except ValueError:
            views = None
    reform = is_reform_post(item["title"], category, portal, settings.news.cchc_keywords)
    return Found(
        "news_post",
        f"{listed:%Y-%m}" if listed else "undated",
        unit,
        value=1,
        text=item["title"],
        attributes={
            "post_id": int(post_id.group(1)) if post_id else None,
            "url": item["url"],
            "category": category,
            # As printed, with no zone: indicators/news.py decides which zone the page was rendered in.
            "listed": listed.replace(tzinfo=None).isoformat() if listed else None,
            "published": listed.isoformat() if listed else None,  # read as Asia/Ho_Chi_Minh, the usual zone
            "cchc": reform,
            "views": views,
            "page": page,
            "position": position,
            "featured": bool(item["featured"]),
        },
    )


def _page_found(view: SnapshotView, unit: str | None, portal: Portal | None, category: str, page: int,
                posts: list[Found], next_url: str | None, *, wrapped: bool = False, theme: str = "",
                list_view: str = "") -> Found:  # fmt: skip
    # The first post stands apart: a category's featured post is repeated first on every page, whatever its date.
    dates = sorted(str(p.attributes["listed"]) for p in posts[1:] if p.attributes["listed"] is not None)
    return Found(
        "news_page",
        "instant",
        unit,
        value=len(posts),
        attributes={
            "portal": portal.id if portal else host_key(view.url),
            "category": category,
            "page": page,
            "newest": dates[-1] if dates else None,
            "oldest": dates[0] if dates else None,
            "undated": sum(p.attributes["listed"] is None for p in posts),
            "ids": [p.attributes["post_id"] for p in posts],
            "next": next_url,
            "wrapped": wrapped,
            "theme": theme,
            "view": list_view,
        },
    )


def _article(view: SnapshotView, root: Element, portal: Portal | None, settings: Settings) -> list[Found]:
    article = first(d for d in everywhere(root, "div") if is_(d, "div", "news_column")
                    and str(d.get("itemtype", "")).endswith("NewsArticle"))  # fmt: skip
    stamp = None
    if article is not None:
        title_tag = first(h for h in descendants(article, "h1") if h.get("itemprop") == "headline")
        date_tag = first(descendants(article, "span", "h5"))
        stamp = first(e for e in descendants(article) if e.get("itemprop") == "datePublished")
    else:
        legacy = first(e for e in everywhere(root) if e.get("id") == "news_detail")
        title_tag = first(descendants(legacy, "h1")) if legacy is not None else None
        date_tag = first(descendants(legacy, "span", "time")) if legacy is not None else None
    if title_tag is None or date_tag is None:
        raise LayoutNotRecognised(
            "nukeviet-article", view.where, f"no NukeViet article headline and date on {host_key(view.where)}"
        )
    try:
        shown = parse_vn_datetime(text(date_tag))  # the visible line: datePublished is the last edit
    except ValueError as exc:
        raise LayoutNotRecognised("nukeviet-article", view.where, f"article date unreadable: {exc}") from None
    # datePublished (PHP's date('c')) carries the zone the page was rendered in, which the visible line shares.
    zone: int | None = None
    if stamp is not None:
        try:
            offset = datetime.fromisoformat(clean(text(stamp))).utcoffset()
            zone = int(offset.total_seconds() // 60) if offset is not None else None
        except ValueError:
            zone = None
    published = (
        shown.replace(tzinfo=timezone(timedelta(minutes=zone))).astimezone(VN_TZ)
        if zone is not None
        else shown
    )
    category = _category_of(view.where, portal)
    title = clean(text(title_tag))
    post_id = _POST_ID.search(urlsplit(view.where).path) or _POST_ID.search(_news_route(view.where, portal))
    return [
        Found(
            "news_article",
            f"{published:%Y-%m}",
            owner_of(portal, category, settings),
            value=1,
            text=title,
            attributes={
                "post_id": int(post_id.group(1)) if post_id else None,
                "portal": portal.id if portal else host_key(view.url),
                "url": view.where,
                "category": category,
                "published": published.isoformat(),
                "shown": shown.replace(tzinfo=None).isoformat(),
                "zone_minutes": zone,  # None: the page did not say, and `published` assumes Asia/Ho_Chi_Minh
                "cchc": is_reform_post(title, category, portal, settings.news.cchc_keywords),
            },
        )
    ]


def _feed_items(view: SnapshotView, body: str, portal: Portal | None, settings: Settings) -> list[Found]:
    document = parse_feed(body)
    channel = first(feed_elements(document, "channel"))
    if first(feed_elements(document, "rss")) is None or channel is None:
        raise LayoutNotRecognised(
            "nukeviet-rss", view.where, f"not an RSS 2.0 feed on {host_key(view.where)}"
        )
    unit = view.unit
    found: list[Found] = []
    for item in feed_elements(channel, "item"):
        link = first(feed_elements(item, "link"))
        pub = first(feed_elements(item, "pubDate"))
        title = first(feed_elements(item, "title"))
        if link is None or title is None:
            raise LayoutNotRecognised("nukeviet-rss", view.where, "an RSS item without its title or link")
        day_hour: tuple[str, int] | None = None
        if pub is not None:
            try:
                day, hour = nukeviet_feed_date(feed_text(pub))
                day_hour = (day.isoformat(), hour)
            except ValueError:
                day_hour = None
        url = clean(feed_text(link))
        post_id = _POST_ID.search(urlsplit(url).path)
        found.append(
            Found(
                "news_feed_item",
                "instant",
                unit,
                value=1,
                text=clean(feed_text(title)),
                attributes={
                    "post_id": int(post_id.group(1)) if post_id else None,
                    "portal": portal.id if portal else host_key(view.url),
                    "url": url,
                    "category": _category_of(url, portal),
                    # Only the UTC date and hour of a NukeViet feed date are true; months are never counted from it.
                    "utc_date": day_hour[0] if day_hour else None,
                    "utc_hour": day_hour[1] if day_hour else None,
                },
            )
        )
    return found


PROBE = NewsProbe()
