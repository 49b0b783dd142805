"""A NukeViet 4.5 news portal (default theme), as a city or ward site serves it.

Reproduces what a real 4.5.05 install does (../shared/docs/portals.md, appendix): list dates with seconds,
a featured first item, "Các tin khác" and "Tin xem nhiều" links that are not the page's posts, the unclosed
<li> after the active page, /page-N/ with a trailing slash, 301 to page 1 past the last page, a one-hour
cache that drops <link rel="next">, RSS dates printed with the month in the minutes field, escaped titles,
an empty category as an empty div.news_column. Per-site NukeViet settings (sim.spec.SiteSettings) change how
posts are shown, never which exist: docs/news.md.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sim.http import Request, Response, Site
from sim.render import render, vn_weekday_date
from sim.spec import PortalSpec
from sim.world import VN_TZ, NewsPost, World, unit_short_name

CATEGORY_NAMES = {
    "tin-tuc-su-kien": "Tin tức - Sự kiện",
    "cai-cach-hanh-chinh": "Cải cách hành chính",
    "van-hoa-xa-hoi": "Văn hóa - Xã hội",
    "thong-bao": "Thông báo",
    "cchc-cds": "CCHC - CĐS",
}
RSS_SIZE = 30
_PAGE = re.compile(r"^page-(\d+)$")
_ARTICLE = re.compile(r"^(?P<alias>[a-z0-9-]+)-(?P<id>\d+)\.html$")
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def rss_pub_date(moment: datetime) -> str:
    """NukeViet's feed date: gmdate('D, j M Y H:m:s') + ' GMT', so the minutes field holds the month."""
    utc = moment.astimezone(UTC)
    return (
        f"{_DAYS_EN[utc.weekday()]}, {utc.day} {_MONTHS_EN[utc.month - 1]} {utc.year} "
        f"{utc.hour:02d}:{utc.month:02d}:{utc.second:02d} GMT"
    )


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


THUMBNAIL = _png(120, 80, (190, 200, 220))


class NukeVietSite(Site):
    server_header = "Apache"

    def __init__(self, world: World, portal: PortalSpec) -> None:
        super().__init__(portal.id)
        self.portal = portal
        self.settings = portal.site
        self.world = world
        # Without rewrite rules every news URL lives under /index.php (portals.md, appendix).
        self.news_base = ("/index.php" if self.settings.rewrite_off else "") + portal.news_path
        self.rss_base = ("/index.php" if self.settings.rewrite_off else "") + portal.rss_path
        self.foreign_zone = ZoneInfo(self.settings.foreign_zone) if self.settings.foreign_zone else None
        owners = {c: u.name for u in world.spec.units if u.portal == portal.id for c in u.news_categories}
        self.category_names = {
            c: owners.get(c) or CATEGORY_NAMES.get(c) or c.replace("-", " ").capitalize()
            for c in portal.categories
        }
        self.site_name = portal.name
        self._served_once: set[str] = (
            set()
        )  # NukeViet's page cache: only a fresh render has <link rel="next">
        self.as_of_end = datetime.combine(world.spec.as_of, datetime.max.time()).replace(tzinfo=VN_TZ)
        owner_unit = next(
            (u for u in world.spec.units if u.portal == portal.id and not u.news_categories), None
        )
        self.short_name = unit_short_name(owner_unit) if owner_unit else portal.name
        self.reload()

    def reload(self) -> None:
        """Read the world's posts again (after editors changed them): each category's list in its order, and
        its featured post."""
        self.posts = self.world.posts[self.portal.id]  # newest first
        self.by_category: dict[str, list[NewsPost]] = {c: [] for c in self.portal.categories}
        for post in self.posts:
            for category in post.categories:
                self.by_category[category].append(post)
        self.by_id = {p.id: p for p in self.posts}
        self.featured: dict[str, NewsPost] = {
            c: posts[-1] for c, posts in self.by_category.items() if c in self.settings.featured and posts
        }
        self.ordered = {c: self._in_order(c, posts) for c, posts in self.by_category.items()}

    def _in_order(self, category: str, posts: list[NewsPost]) -> list[NewsPost]:
        """The category's list without its featured post, as NukeViet orders it: publication time (oldest
        first for viewcat_page_old), or editors' weight, where a few old posts were raised to the top."""
        rest = [p for p in posts if p is not self.featured.get(category)]
        if self.settings.order_by_weight and len(rest) > 8:
            rng = random.Random(f"{self.world.spec.seed}:weight:{self.portal.id}:{category}")
            raised = rng.sample(rest[len(rest) // 2 :], 2)
            rest = raised + [p for p in rest if p not in raised]
        if self.settings.view(category) == "viewcat_page_old":
            rest.reverse()
        return rest

    def when(self, page: int | None) -> Callable[[NewsPost], datetime]:
        """How a page prints a post's time: a category's pages 1-4 come from a cache that a visitor in the
        foreign zone filled (byCountry); anything else is rendered fresh for us, in Asia/Ho_Chi_Minh."""
        zone = self.foreign_zone if (self.foreign_zone and page is not None and page < 5) else VN_TZ
        return lambda post: post.published.astimezone(zone)

    # --- routing ---------------------------------------------------------------------------------------------

    def robots_txt(self) -> str:
        return (
            "User-agent: *\n"
            "Disallow: /admin/\nDisallow: /data/\nDisallow: /includes/\nDisallow: /install/\n"
            "Disallow: /modules/\nDisallow: /vendor/\nDisallow: /config.php\nDisallow: /mainfile.php\n"
            f"\nSitemap: {self.origin}/index.php?nv=SitemapIndex\n"
        )

    def retired_page(self) -> str:
        return (
            '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Trang không tồn tại</title></head>'
            f"<body><h1>Trang thông tin điện tử đã ngừng hoạt động</h1><p>{self.site_name} đã ngừng hoạt động "
            "từ ngày 01/7/2025 theo Nghị quyết số 1682/NQ-UBTVQH15.</p></body></html>"
        )

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith(("/uploads/", "/assets/")):
            return Response(200, THUMBNAIL, "image/png", etag=True)
        if path.startswith("/themes/"):
            return Response.text("/* default theme */\n", content_type="text/css")
        if path in ("/", "/vi/", "/index.php"):
            return self._main(request, path)
        news = self.news_base
        if self.settings.rewrite_off and path.startswith(self.portal.news_path.rstrip("/")):
            return Response.redirect("/index.php" + path)
        if path == news.rstrip("/"):
            return Response.redirect(news)
        if not path.startswith(news):
            return self._not_found()
        rest = path[len(news) :]
        if rest == "":
            return self._main(request, path)
        if not rest.endswith(("/", ".html")):
            return Response.redirect(path + "/")
        parts = rest.strip("/").split("/")
        if parts[0] == "rss":
            return self._rss(parts[1] if len(parts) > 1 else None, path)
        category = parts[0]
        if category not in self.by_category:
            return Response.redirect(news)
        if len(parts) == 1:
            return self._category(request, category, 1)
        page = _PAGE.match(parts[1])
        if page and len(parts) == 2:
            return self._category(request, category, int(page.group(1)))
        article = _ARTICLE.match(parts[1])
        if article and len(parts) == 2:
            return self._article(request, category, int(article.group("id")))
        return self._not_found()

    # --- pages ----------------------------------------------------------------------------------------------

    def post_url(self, post: NewsPost, category: str | None = None) -> str:
        """A post's link: under the category being listed (NukeViet links a multi-category post from each)."""
        listed = category if category in post.categories else post.category
        return f"{self.news_base}{listed}/{post.alias}-{post.id}.html"

    def _theme(self, request: Request) -> str:
        if request.variant == "drift":
            return "drift"
        return "nukeviet3" if self.portal.platform == "nukeviet-3" else "nukeviet"

    def _common(self, title: str, canonical: str) -> dict[str, object]:
        return {
            "page_title": title,
            "site_name": self.site_name,
            "origin": self.origin,
            "canonical": self.origin + canonical,
            "news_path": self.news_base,
            "rss_path": self.rss_base,
            "categories": list(self.category_names.items()),
            "tophits": sorted(self.posts[:200], key=lambda p: -p.views)[:5],
            "post_url": self.post_url,
            "is_new": lambda p: self.as_of_end - p.published < timedelta(days=2),
            "lang_view": "Xem",
            "lang_comment": "Phản hồi",
            "next_url": None,
            "when": self.when(None),
        }

    def _main(self, request: Request, path: str) -> Response:
        theme = self._theme(request)
        context = {**self._common("Tin Tức", self.news_base), "when": self.when(1)}
        if theme == "nukeviet":
            blocks = [(c, self.category_names[c], posts[:5]) for c, posts in self.by_category.items()]
            return Response.html(render("nukeviet/viewcat_main.html", blocks=blocks, **context))
        # The other themes show the newest posts as one list on the home page.
        html = render(f"{theme}/viewcat_page.html", posts=self.posts[:20], pages=[], others=[],
                      category_name="Tin Tức", **context)  # fmt: skip
        return Response.html(html)

    def page_url(self, category: str, page: int) -> str:
        base = f"{self.news_base}{category}/"
        return base if page == 1 else f"{base}page-{page}/"

    def _category(self, request: Request, category: str, page: int) -> Response:
        listed = self.ordered[category]
        featured = self.featured.get(category)
        per_page = self.settings.per_page
        # NukeViet counts the featured post in the number of pages, then leaves it out of every page's slice.
        count = len(listed) + (featured is not None)
        last_page = max(1, -(-count // per_page))
        if page == 1 and request.path != self.page_url(category, 1):
            return Response.redirect(self.page_url(category, 1))
        if page > last_page:
            return Response.redirect(self.page_url(category, 1))
        items = ([featured] if featured else []) + listed[(page - 1) * per_page : page * per_page]
        view = self.settings.view(category)
        canonical = self.page_url(category, page)
        context = self._common(self.category_names[category], canonical)
        context["post_url"] = lambda post: self.post_url(post, category)
        context["when"] = self.when(page)
        fresh = canonical not in self._served_once
        self._served_once.add(canonical)
        if page < last_page and (fresh or request.variant == "drift"):
            context["next_url"] = self.origin + self.page_url(category, page + 1)
        theme = self._theme(request)
        template = {"viewcat_list_new": "viewcat_list.html", "viewcat_grid_new": "viewcat_grid.html"}.get(
            view
        )
        if theme != "nukeviet" or template is None:
            template = "viewcat_page.html"
        others = listed[page * per_page : page * per_page + 5] if view.startswith("viewcat_page") else []
        html = render(
            f"{theme}/{template}",
            posts=items,
            others=others,
            first_number=(page - 1) * per_page + 1,
            pages=_pagination(page, last_page, lambda n: self.page_url(category, n)),
            category_name=self.category_names[category],
            **context,
        )
        return Response.html(html)

    def _article(self, request: Request, category: str, post_id: int) -> Response:
        post = self.by_id.get(post_id)
        if post is None:
            return self._not_found()
        if category not in post.categories:
            return Response.redirect(self.post_url(post))
        if request.path != self.post_url(post, category):
            return Response.redirect(self.post_url(post))
        shown = max(post.edited, post.published)
        same_category = [p for p in self.by_category[category] if p.id != post.id][:5]
        # Articles are never cached: rendered for us, in our zone, which datePublished states.
        html = render(
            f"{self._theme(request)}/detail.html",
            post=post,
            related=same_category,
            category_name=self.category_names[category],
            date_published=shown.isoformat(),
            mangled_time=f"{shown:%Y-%m-%d}+07{shown:%H:%M:%S}",
            display_date=vn_weekday_date(post.published)
            if self._theme(request) != "nukeviet3"
            else f"{post.published:%d/%m/%Y %H:%M}",
            **self._common(post.title, self.post_url(post)),
        )
        return Response.html(html, etag=True)

    def _rss(self, category: str | None, path: str) -> Response:
        if category is not None and category not in self.by_category:
            return Response.redirect(self.rss_base)
        posts = (self.by_category[category] if category else self.posts)[:RSS_SIZE]
        xml = render(
            "nukeviet/rss.xml",
            posts=posts,
            channel_title=self.category_names[category] if category else "Tin Tức",
            self_path=path,
            origin=self.origin,
            news_path=self.news_base,
            site_name=self.site_name,
            post_url=lambda post: self.post_url(post, category),
            rss_date=lambda p: rss_pub_date(p.published),
        )
        return Response(200, xml.encode("utf-8"), "application/rss+xml; charset=utf-8", etag=True)

    def _not_found(self) -> Response:
        return Response.html("<html><body><h1>Lỗi 404</h1><p>Trang không tồn tại.</p></body></html>", 404)


def _pagination(page: int, last: int, url: object) -> list[tuple[str, str | None, bool]]:
    """NukeViet's pager: «, the first page, a window around the current one, the last page, »."""
    assert callable(url)
    items: list[tuple[str, str | None, bool]] = []
    if page > 1:
        items.append(("«", url(page - 1), False))
    shown = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    previous = 0
    for n in shown:
        if n - previous > 1:
            items.append(("...", None, False))
        items.append((str(n), None if n == page else url(n), n == page))
        previous = n
    if page < last:
        items.append(("»", url(page + 1), False))
    return items
