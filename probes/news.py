"""The news probe: each unit's posts on its NukeViet portal, by month and category, reform posts apart.

Walks a unit's category pages (a phòng: its categories of the city portal, plan II.1.e) from page 1 back to
`news.since`, following ul.pagination (not <link rel=next>, which NukeViet's cache drops), and reads the
list dates (local publication time). RSS is captured too, but its dates are NukeViet's broken
gmdate('…H:m:s'), so months are never counted from it. A redirect to another host is a moved site, not an
empty one; a page in an unknown layout is a parse failure, never zero posts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import partial
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, Tag

from cchc.settings import Portal, Settings, Unit
from crawler import Target, host_key
from probes._base import Found, LayoutNotRecognised, Parsed, SnapshotView
from probes._probe import Job
from probes._session import CrawlSession
from probes._text import clean, nukeviet_feed_date, parse_count, parse_vn_datetime

NAME = "news"
VERSION = "1"
_POST_ID = re.compile(r"-(\d+)\.html$")
_PAGE = re.compile(r"/page-(\d+)/?$")


def is_reform_post(title: str, category: str, portal: Portal | None, keywords: Sequence[str]) -> bool:
    """On administrative reform: in one of the portal's reform categories, or a keyword (whole words) in the title."""
    if portal is not None and category in portal.cchc_categories:
        return True
    folded = unicodedata.normalize("NFC", title).casefold()
    return any(re.search(r"(?<!\w)" + re.escape(k.casefold()) + r"(?!\w)", folded) for k in keywords)


def portal_of(url: str, settings: Settings) -> Portal | None:
    host = host_key(url)
    return next((p for p in settings.portal if host_key(p.base_url) == host), None)


def owner_of(portal: Portal | None, category: str, settings: Settings) -> str | None:
    """The unit whose posts a category holds: a phòng that names it, else the ward whose portal it is."""
    if portal is None:
        return None
    units = [u for u in settings.unit if u.portal == portal.id]
    named = next((u for u in units if category in u.news_categories), None)
    if named is not None:
        return named.id
    own = next((u for u in units if not u.news_categories), None)
    return own.id if own is not None else None


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
        return jobs

    async def _walk(self, portal: Portal, unit: Unit, category: str, session: CrawlSession) -> None:
        since = session.settings.news.since
        url: str | None = f"{portal.base_url}{portal.news_path}{category}/"
        visited: set[str] = set()
        page = 1
        while url is not None and url not in visited:
            visited.add(url)
            target = Target(url=url, probe=NAME, unit=unit.id, label=f"{category} page {page}")
            _, parsed = await session.visit(self, target)
            if parsed is None:
                return  # a failure ends the walk; the months it did not reach stay uncovered
            posts = [f for f in parsed.found if f.metric == "news_post"]
            oldest = min((str(f.attributes["published"]) for f in posts), default=None)
            if oldest is not None and oldest[:10] < since.isoformat():
                return
            url = parsed.next_urls[0] if parsed.next_urls else None
            page += 1

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
        soup = BeautifulSoup(body, "lxml")
        if view.where.endswith(".html"):
            return Parsed(_article(view, soup, portal, settings))
        return _category_page(view, soup, portal, settings)


def _category_of(url: str, portal: Portal | None) -> str:
    path = urlsplit(url).path
    news_path = portal.news_path if portal else "/vi/news/"
    rest = path[len(news_path) :] if path.startswith(news_path) else path.strip("/")
    return rest.strip("/").split("/")[0]


def _page_of(url: str) -> int:
    match = _PAGE.search(urlsplit(url).path)
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


def _category_page(
    view: SnapshotView, soup: BeautifulSoup, portal: Portal | None, settings: Settings
) -> Parsed:
    category = _category_of(view.url, portal)
    unit = owner_of(portal, category, settings)
    requested, served = _page_of(view.url), _page_of(view.where)
    if requested != served:
        # NukeViet answers a page past the last with a 301 to page 1: not more posts, the end of the list.
        return Parsed([_page_found(view, unit, portal, category, requested, [], None, wrapped=True)])
    items, next_url, theme = _list_items(view, soup)
    found: list[Found] = []
    for item in items:
        found.append(_post(view, item, unit, portal, category, settings))
    page = _page_found(view, unit, portal, category, requested, found, next_url, theme=theme)
    return Parsed([*found, page], [next_url] if next_url else [])


def _list_items(view: SnapshotView, soup: BeautifulSoup) -> tuple[list[dict[str, Any]], str | None, str]:
    """The posts of a category page in the 4.5 default theme or the 3.x theme, and the next page's URL."""
    generator = soup.select_one('meta[name="generator"]')
    generator_text = str(generator.get("content", "")) if generator else ""
    bodies = soup.select("div.news_column > div.panel > div.panel-body")
    if bodies:
        items = [_item_45(view, body) for body in bodies]
        return items, _next_45(view, soup), "nukeviet-4.5"
    legacy = soup.select("#news_list .news-item")
    if legacy:
        items = [_item_3x(view, item) for item in legacy]
        return items, _next_3x(view, soup), "nukeviet-3"
    notice = soup.select_one("div.alert")
    if generator_text.startswith("NukeViet") and notice is not None and "Chưa có tin" in notice.get_text():
        return [], None, "nukeviet-4.5"
    raise LayoutNotRecognised(
        "nukeviet-category",
        view.where,
        f"no NukeViet list items (div.news_column > div.panel > div.panel-body, #news_list .news-item) "
        f"on {host_key(view.where)}; generator {generator_text or 'absent'!r}",
    )


def _item_45(view: SnapshotView, body: Tag) -> dict[str, Any]:
    link = body.select_one("h2 > a[href], h3 > a[href]")
    clock = next((li for li in body.select("div.text-muted li") if li.select_one("em.fa-clock-o")), None)
    if link is None or clock is None:
        raise LayoutNotRecognised(
            "nukeviet-category", view.where, "a list item without its title link or clock date"
        )
    views = next((li for li in body.select("div.text-muted li") if li.select_one("em.fa-eye")), None)
    return {
        "title": clean(str(link.get("title") or link.get_text())),
        "url": urljoin(view.where, str(link["href"])),
        "date": clock.get_text(),
        "views": views.get_text() if views else None,
    }


def _item_3x(view: SnapshotView, item: Tag) -> dict[str, Any]:
    link = item.select_one("h3 > a[href]")
    clock = item.select_one("span.time")
    if link is None or clock is None:
        raise LayoutNotRecognised(
            "nukeviet-category", view.where, "a 3.x list item without its title link or span.time"
        )
    return {"title": clean(str(link.get("title") or link.get_text())), "url": urljoin(view.where, str(link["href"])),
            "date": clock.get_text(), "views": None}  # fmt: skip


def _next_45(view: SnapshotView, soup: BeautifulSoup) -> str | None:
    active = soup.select_one("ul.pagination li.active")
    if active is None:
        return None
    wanted = str(int(active.get_text(strip=True)) + 1) if active.get_text(strip=True).isdigit() else None
    for link in soup.select("ul.pagination a[href]"):
        if link.get_text(strip=True) == wanted:
            return urljoin(view.where, str(link["href"]))
    return None


def _next_3x(view: SnapshotView, soup: BeautifulSoup) -> str | None:
    current = soup.select_one(".generate_page strong")
    if current is None or not current.get_text(strip=True).isdigit():
        return None
    wanted = str(int(current.get_text(strip=True)) + 1)
    link = next((a for a in soup.select(".generate_page a[href]") if a.get_text(strip=True) == wanted), None)
    return urljoin(view.where, str(link["href"])) if link else None


def _post(view: SnapshotView, item: dict[str, Any], unit: str | None, portal: Portal | None, category: str,
          settings: Settings) -> Found:  # fmt: skip
    try:
        published = parse_vn_datetime(item["date"])
    except ValueError as exc:
        raise LayoutNotRecognised("nukeviet-category", view.where, f"list date unreadable: {exc}") from None
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
        f"{published:%Y-%m}",
        unit,
        value=1,
        text=item["title"],
        attributes={
            "post_id": int(post_id.group(1)) if post_id else None,
            "url": item["url"],
            "category": category,
            "published": published.isoformat(),
            "cchc": reform,
            "views": views,
        },
    )


def _page_found(view: SnapshotView, unit: str | None, portal: Portal | None, category: str, page: int,
                posts: list[Found], next_url: str | None, *, wrapped: bool = False, theme: str = "") -> Found:  # fmt: skip
    dates = sorted(str(p.attributes["published"]) for p in posts)
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
            "next": next_url,
            "wrapped": wrapped,
            "theme": theme,
        },
    )


def _article(
    view: SnapshotView, soup: BeautifulSoup, portal: Portal | None, settings: Settings
) -> list[Found]:
    article = soup.select_one('div.news_column[itemtype$="NewsArticle"]')
    if article is not None:
        title_tag, date_tag = article.select_one("h1[itemprop=headline]"), article.select_one("span.h5")
    else:
        legacy = soup.select_one("#news_detail")
        title_tag = legacy.select_one("h1") if legacy else None
        date_tag = legacy.select_one("span.time") if legacy else None
    if title_tag is None or date_tag is None:
        raise LayoutNotRecognised(
            "nukeviet-article", view.where, f"no NukeViet article headline and date on {host_key(view.where)}"
        )
    try:
        published = parse_vn_datetime(date_tag.get_text())  # the visible line: datePublished is the last edit
    except ValueError as exc:
        raise LayoutNotRecognised("nukeviet-article", view.where, f"article date unreadable: {exc}") from None
    category = _category_of(view.where, portal)
    title = clean(title_tag.get_text())
    post_id = _POST_ID.search(urlsplit(view.where).path)
    return [
        Found(
            "news_article",
            f"{published:%Y-%m}",
            owner_of(portal, category, settings),
            value=1,
            text=title,
            attributes={
                "post_id": int(post_id.group(1)) if post_id else None,
                "url": view.where,
                "category": category,
                "published": published.isoformat(),
                "cchc": is_reform_post(title, category, portal, settings.news.cchc_keywords),
            },
        )
    ]


def _feed_items(view: SnapshotView, body: str, portal: Portal | None, settings: Settings) -> list[Found]:
    soup = BeautifulSoup(body, "xml")
    channel = soup.find("channel")
    if soup.find("rss") is None or channel is None:
        raise LayoutNotRecognised(
            "nukeviet-rss", view.where, f"not an RSS 2.0 feed on {host_key(view.where)}"
        )
    unit = view.unit
    found: list[Found] = []
    for item in channel.find_all("item"):
        link = item.find("link")
        pub = item.find("pubDate")
        title = item.find("title")
        if link is None or title is None:
            raise LayoutNotRecognised("nukeviet-rss", view.where, "an RSS item without its title or link")
        day_hour: tuple[str, int] | None = None
        if pub is not None:
            try:
                day, hour = nukeviet_feed_date(pub.get_text())
                day_hour = (day.isoformat(), hour)
            except ValueError:
                day_hour = None
        url = clean(link.get_text())
        post_id = _POST_ID.search(urlsplit(url).path)
        found.append(
            Found(
                "news_feed_item",
                "instant",
                unit,
                value=1,
                text=clean(title.get_text()),
                attributes={
                    "post_id": int(post_id.group(1)) if post_id else None,
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
