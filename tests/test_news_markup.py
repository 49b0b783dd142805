"""The news parser reads every news-like page the project has exactly as it was recorded: the saved pages of
tests/data/news, pages the simulation renders under each NukeViet setting, theme and markup fault, and hostile
hand-written pages (entities, &nbsp;, <br>, comments, script/style/template inside items, CDATA, nested tables,
missing optional parts, broken markup, non-NFC Vietnamese). A change of parser must leave every result alike.

`CCHC_RECORD_NEWS=1` rewrites tests/data/news/expected.json from the parser as it is; each case keeps the digest
of its input, so a page the simulation now renders differently is told apart from a parser that reads it
differently (re-record only the former, and only with a parser known to be right).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_news_settings import ALL as ALL_SETTINGS

from cchc.settings import Settings, load_settings
from cli.simlink import world_spec
from conftest import CONFIG
from probes._base import PageUnreadable, SnapshotView
from probes.news import PROBE as NEWS
from sim import Simulation, SiteSettings, WorldSpec
from sim.http import Request
from sim.sites.nukeviet import NukeVietSite

DATA = Path(__file__).parent / "data" / "news"
EXPECTED = DATA / "expected.json"
RECORD = os.environ.get("CCHC_RECORD_NEWS") == "1"
HTML = "text/html; charset=utf-8"
RSS = "application/rss+xml; charset=utf-8"
WARD = "phuong-1"
CITY = "thanhpho"


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    url: str
    body: bytes
    content_type: str = HTML
    final_url: str = ""
    redirects: tuple[tuple[str, int], ...] = ()

    def view(self) -> SnapshotView:
        return SnapshotView(url=self.url, body=self.body, headers=(("Content-Type", self.content_type),),
                            final_url=self.final_url, redirects=self.redirects, unit=WARD)  # fmt: skip

    def digest(self) -> str:
        parts = (self.url, self.final_url, self.content_type, repr(self.redirects))
        return hashlib.sha256("\n".join(parts).encode() + b"\n" + self.body).hexdigest()[:16]


# --- the simulation's pages ------------------------------------------------------------------------------------

# Settings that change the markup or the URLs of a site (sim.spec.SiteSettings), each on the ward and the city.
SITE_SETTINGS = {
    "default": SiteSettings(),
    "all": ALL_SETTINGS,  # every setting at once, as tests/test_news_settings.py crawls it
    "views": SiteSettings(
        views=(
            ("thong-bao", "viewcat_list_new"),
            ("van-hoa-xa-hoi", "viewcat_grid_new"),
            ("cai-cach-hanh-chinh", "viewcat_page_old"),
        )
    ),
    "featured": SiteSettings(featured=("tin-tuc-su-kien", "cai-cach-hanh-chinh")),
    "empty": SiteSettings(empty_categories=("van-hoa-xa-hoi", "thong-bao")),
    "west": SiteSettings(foreign_zone="America/Los_Angeles", per_page=11),
}


def _spec(base: WorldSpec, site: SiteSettings, platform: str | None = None) -> WorldSpec:
    portals = tuple(
        dataclasses.replace(p, site=site, platform=platform or p.platform) if p.id in (WARD, CITY) else p
        for p in base.portals
    )
    return dataclasses.replace(base, portals=portals)


def _get(site: NukeVietSite, path: str, variant: str = "normal") -> tuple[bytes, str, str]:
    """Renders a path as the site serves it, redirects followed: (body, content type, final path)."""
    for _ in range(5):
        response = site.handle(Request("GET", path, {}, {}, b"", 0, variant))
        location = dict(response.headers).get("Location")
        if location is None:
            return response.body, response.content_type, path
        path = location
    raise AssertionError(f"redirect loop at {path}")


def _site_cases(
    name: str, sim: Simulation, settings: Settings, portal_id: str, variant: str
) -> Iterator[Case]:
    site = sim.sites[portal_id]
    assert isinstance(site, NukeVietSite)
    base = settings.portal_by_id(portal_id).base_url
    site.origin = base  # links and pagination as the real host prints them
    news = site.news_base
    categories = list(site.portal.categories)
    if portal_id == CITY:
        categories = ["cchc-cds", "phong-noi-vu", "van-phong"]

    def case(label: str, path: str, requested: str | None = None) -> Case:
        body, content_type, final = _get(site, path, variant)
        return Case(f"sim/{name}/{portal_id}/{label}", base + (requested or path), body, content_type,
                    base + final if final != (requested or path) else "")  # fmt: skip

    yield case("home", news)
    for category in categories:
        listed = site.ordered[category]
        pages = max(1, -(-(len(listed) + (category in site.featured)) // site.settings.per_page))
        # Pages differ only in their posts and pager: the first, the second and the last tell it all.
        wanted = {1, 2, pages} if name == "default" else {1, pages} if variant == "normal" else {1, 2}
        for page in sorted(wanted):
            if page <= pages:
                yield case(f"{category}/page-{page}", site.page_url(category, page))
        if variant == "normal":
            yield case(f"{category}/past-last", f"{news}{category}/page-{pages + 1}/")
        posts = site.by_category[category]
        if posts:
            yield case(f"{category}/article", site.post_url(posts[0], category))
        edited = next((p for p in posts if p.edited.date() != p.published.date()), None)
        if edited is not None and variant == "normal":
            yield case(f"{category}/article-edited", site.post_url(edited, category))
        if variant == "normal" and category == categories[0]:
            yield case(f"{category}/rss", f"{site.rss_base}{category}/")
    if variant == "normal":
        yield case("rss", site.rss_base)


def sim_cases(settings: Settings) -> Iterator[Case]:
    base = world_spec(settings)
    runs: list[tuple[str, WorldSpec, str | None]] = [
        (name, _spec(base, site), None) for name, site in SITE_SETTINGS.items()
    ]
    runs += [("nukeviet-3", _spec(base, SiteSettings(), "nukeviet-3"), None),
             ("drift", _spec(base, SiteSettings()), "drift")]  # fmt: skip
    for name, spec, variant in runs:
        sim = Simulation(spec)  # never started: its sites render pages without a server
        for portal_id in (WARD, CITY) if name in ("default", "all") else (WARD,):
            yield from _site_cases(name, sim, settings, portal_id, variant or "normal")
    # The same page under the other URL forms a site may use, and a site that moved to another host.
    sim = Simulation(_spec(base, SiteSettings()))
    site = sim.sites[WARD]
    assert isinstance(site, NukeVietSite)
    origin = settings.portal_by_id(WARD).base_url
    site.origin = origin
    page2, _, _ = _get(site, "/vi/news/tin-tuc-su-kien/page-2/")
    home, _, _ = _get(site, "/vi/news/")
    yield Case("url/query-string", origin + "/index.php?language=vi&nv=news&op=tin-tuc-su-kien/page-2", page2)
    yield Case("url/no-language", origin + "/news/tin-tuc-su-kien/page-2/", page2)
    yield Case("url/index-php", origin + "/vi/news/tin-tuc-su-kien/page-2/", page2,
               final_url=origin + "/index.php/vi/news/tin-tuc-su-kien/page-2/")  # fmt: skip
    yield Case("url/home-query", origin + "/index.php?language=vi&nv=news", home)
    yield Case("url/unknown-host", "https://example.org/vi/news/tin-tuc-su-kien/page-2/", page2)
    yield Case("url/moved", origin + "/vi/news/tin-tuc-su-kien/", page2,
               final_url="https://binhminh.tayninh.gov.vn/vi/news/tin-tuc-su-kien/",
               redirects=((origin + "/vi/news/tin-tuc-su-kien/", 301),))  # fmt: skip
    article_path = site.post_url(site.by_category["thong-bao"][0], "thong-bao")
    article, _, _ = _get(site, article_path)
    yield Case("url/article-saved-file", "file:///tmp/saved.html", article)


def saved_cases() -> Iterator[Case]:
    base = "https://phuong1thanhpho.tayninh.gov.vn"
    for path in sorted(DATA.glob("*.html")):
        body = path.read_bytes()
        yield Case(f"saved/{path.name}", f"{base}/vi/news/thong-bao/", body)
        yield Case(f"saved/{path.name}/home", f"{base}/vi/news/", body)
        yield Case(f"saved/{path.name}/article-url", f"{base}/vi/news/thong-bao/tin-1.html", body)


# --- hostile and edge pages ---------------------------------------------------------------------------------------

HEAD = '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><meta name="generator" content="NukeViet v4.5"></head><body>'
TAIL = "</body></html>"


def panel(title: str, date: str, *, href: str = "/vi/news/tin-tuc-su-kien/bai-viet-101.html",
          attr_title: str | None = None, views: str | None = "Xem: 1.018", featured: bool = False,
          extra: str = "") -> str:  # fmt: skip
    title_attr = "" if attr_title is None else f' title="{attr_title}"'
    heading = "h2" if featured else "h3"
    views_li = "" if views is None else f'<li><em class="fa fa-eye">&nbsp;</em> {views}</li>'
    return (
        f'<div class="panel panel-default"><div class="panel-body{" featured" if featured else ""}">'
        f'<{heading}><a href="{href}"{title_attr}>{title}</a></{heading}>'
        f'<div class="text-muted"><ul class="list-unstyled list-inline">'
        f'<li><em class="fa fa-clock-o">&nbsp;</em> {date}</li>{views_li}'
        f'<li><em class="fa fa-comment-o">&nbsp;</em> 0</li></ul></div>{extra}</div></div>'
    )


PAGER = (
    '<ul class="pagination"><li class="page-item"><a class="page-link" href="/vi/news/tin-tuc-su-kien/">1</a></li>'
    '<li class="active"><a href="javascript:void(0)">2</a><li>'
    '<li class="page-item"><a class="page-link" href="/vi/news/tin-tuc-su-kien/page-3/">3</a></li></ul>'
)


def category_page(*items: str, pager: str = PAGER, before: str = "", after: str = "") -> str:
    return f'{HEAD}{before}<div class="news_column">{"".join(items)}</div>{pager}{after}{TAIL}'


DECOMPOSED = "Ca\u0309i ca\u0301ch ha\u0300nh chi\u0301nh: ra\u0300 soa\u0301t TTHC"  # NFD, a reform title

HOSTILE_CATEGORY = {
    "entities": category_page(
        panel(
            "Rà soát TTHC năm 2023&#x3A; đợt 1&#x002F;2 &amp;amp; &lt;b&gt; &agrave; &#7879; &bogus; &#0; x",
            "15/06/2023&nbsp;09:30:00",
            attr_title="Rà soát &#x002F; TTHC &quot;2023&quot; &amp; &#x3A;",
        ),
        panel("Không có title, &nbsp;nbsp&nbsp;", "16/06/2023 09:30:00", attr_title=""),
    ),
    "br-comments-scripts-in-title": category_page(
        panel(
            "Dòng một<br>dòng hai<br/>dòng<!-- ẩn --> ba <script>var x = '<b>no</b>';</script>"
            "<style>.a{}</style><template>mẫu</template><ruby>Hán<rt>hàn</rt><rp>(</rp></ruby> cuối",
            "15/06/2023 09:30:00",
        ),
        panel("<span>Lồng</span> <b>nhiều <i>thẻ</i></b>\n\t tiêu đề", "14/06/2023 09:30:00"),
    ),
    "comments-and-scripts-in-dates": category_page(
        panel(
            "Ngày có chú thích",
            "15/06/<!-- 01/01/1999 -->2023 <script>document.write('01/01/1999')</script>"
            "09:30<style>x{}</style>:00",
        ),
        panel("Lượt xem lạ", "14/06/2023 09:30:00", views="Xem:&nbsp;<b>2</b>.<!-- x -->345"),
        panel("Lượt xem hỏng", "13/06/2023 09:30:00", views="Xem: nhiều"),
        panel("Không lượt xem", "12/06/2023 09:30:00", views=None),
        panel("Lượt xem rỗng", "11/06/2023 09:30:00", views=""),
    ),
    "template-and-noscript-items": category_page(
        panel("Bài thật", "15/06/2023 09:30:00"),
        "<template>" + panel("Bài trong template", "14/06/2023 09:30:00") + "</template>",
        "<noscript>" + panel("Bài trong noscript", "13/06/2023 09:30:00") + "</noscript>",
        "<script>document.write('" + panel("Bài trong script", "12/06/2023 09:30:00") + "')</script>",
    ),
    "cdata-and-pi": category_page(
        panel("Tiêu đề <![CDATA[ẩn hay hiện]]> sau", "15/06/2023 09:30:00"),
        panel("<?php echo 'x'; ?>Có PI", "14/06/2023 09:30:00"),
    ),
    "nested-tables": category_page(
        "<table><tr><td>"
        + panel("Trong bảng", "15/06/2023 09:30:00")
        + "<table><tr><td>"
        + panel("Bảng lồng bảng", "14/06/2023 09:30:00")
        + "</td></tr></table></td></tr></table>",
        panel("Sau bảng", "13/06/2023 09:30:00"),
    ),
    "non-nfc-vietnamese": category_page(
        panel(DECOMPOSED, "15/06/2023 09:30:00", attr_title=DECOMPOSED),
        panel("Tin tu\u031bc su\u031b\u0323 kie\u0323\u0302n", "14/06/2023 09:30:00"),
    ),
    "missing-optional-parts": category_page(
        '<div class="panel panel-default"><div class="panel-body"><h3><a href="/vi/news/a/b-7.html">Tối giản</a></h3>'
        '<div class="text-muted"><li><em class="fa-clock-o"></em>15/06/2023</li></div></div></div>',
        pager="",
    ),
    "broken-markup": category_page(
        '<div class="panel panel-default"><div class="panel-body featured"><h2><a href=/vi/news/x/mo-ta-11.html '
        "title=Không-ngoặc>Không đóng thẻ a</h2><div class=text-muted><ul><li><em class='fa fa-clock-o'></em>"
        '15/06/2023 09:30:00<li><em class="fa fa-eye"></em>Xem: 3</ul></div></div>'
        '<div class="panel panel-default"><div class="panel-body"><p><h3><a href="/vi/news/x/y-12.html">'
        'Thẻ p chứa h3</a></h3></p><div class="text-muted"><ul><li><em class="fa fa-clock-o"></em>'
        "14/06/2023 09:30:00</li></ul></div></div></div></div></div></div>",
        pager='<ul class="pagination"><li class="active"><span> 2 </span><li><a href="/vi/news/x/page-3/"> 3\n</a>'
        '<li><a href="/vi/news/x/page-4/">4',
    ),
    "uppercase-tags-and-classes": HEAD.replace("<body>", "<BODY>")
    + '<DIV CLASS="news_column"><DIV Class="panel"><DIV class="PANEL-BODY panel-body">'
    '<H3><A HREF="/vi/news/a/hoa-21.html" TITLE="Chữ hoa">x</A></H3><DIV class="text-muted"><UL><LI>'
    '<EM class="fa fa-clock-o"></EM>15/06/2023 09:30</LI></UL></DIV></DIV></DIV>'
    '<div class="News_Column"><div class="panel"><div class="panel-body"><h3><a href="/vi/news/a/b-22.html">'
    'Lớp hoa</a></h3><div class="text-muted"><li><em class="fa fa-clock-o"></em>15/06/2023</li></div></div></div>'
    "</div></DIV>" + TAIL,
    "class-with-nbsp-and-tabs": HEAD
    + '<div class="news_column\tother"><div class="panel\xa0x"><div class="panel-body"></div></div>'
    '<div class=" panel "><div class="\npanel-body featured\t">'
    '<h3><a href="/vi/news/a/c-31.html">Lớp có tab</a></h3><div class="text-muted"><ul><li>'
    '<em class="fa fa-clock-o"></em>15/06/2023 09:30</li></ul></div></div></div></div>' + TAIL,
    "no-clock": category_page(
        '<div class="panel panel-default"><div class="panel-body"><h3><a href="/vi/news/a/b-1.html">x</a></h3>'
        '<div class="text-muted"><ul><li><em class="fa fa-eye"></em>Xem: 1</li></ul></div></div></div>'
    ),
    "no-link": category_page(
        '<div class="panel panel-default"><div class="panel-body"><h3>Không liên kết</h3>'
        '<div class="text-muted"><ul><li><em class="fa fa-clock-o"></em>15/06/2023</li></ul></div></div></div>'
    ),
    "unreadable-date": category_page(panel("Ngày hỏng", "31/02/2023 09:30:00")),
    "date-words": category_page(panel("Ngày chữ", "hôm qua")),
    "deep-nesting": category_page(
        "<div>" * 300 + panel("Rất sâu", "15/06/2023 09:30:00") + "</div>" * 300,
        panel("Sau phần sâu", "14/06/2023 09:30:00"),
    ),
    "related-and-tophits-are-not-posts": category_page(
        panel(
            "Bài chính",
            "15/06/2023 09:30:00",
            extra='<ul class="related"><li><a href="/vi/news/a/lien-quan-41.html" title="">Liên quan <b>đậm</b></a>'
            '</li><li><a href="/vi/news/a/khac-42.html" title="Tiêu đề thuộc tính">Khác</a></li></ul>',
        ),
        after='<ul class="block_tophits"><li><a href="/vi/news/a/xem-nhieu-43.html">Xem nhiều</a></li></ul>',
    ),
    "empty-with-alert-and-comment": HEAD
    + '<div class="news_column"> <!-- trống --> <div class="alert alert-info">Mô tả</div>\n</div>'
    + TAIL,
    "empty-with-other-child": HEAD
    + '<div class="news_column"><div class="alert"></div><p>x</p></div>'
    + TAIL,
    "empty-list-group": HEAD + '<div class="list-group">\n</div>' + TAIL,
    "empty-without-generator": '<html><body><div class="news_column"></div></body></html>',
    "empty-other-generator": HEAD.replace("NukeViet v4.5", "WordPress")
    + '<div class="news_column"></div>'
    + TAIL,
    "list-group-titles": HEAD
    + '<div class="list-group"><a class="show h4" href="/vi/news/a/t-51.html" title="Có tiêu đề">x</a>'
    '<a class="show h4" href="/vi/news/a/t-52.html"><!-- c -->Không <br>tiêu đề</a>'
    '<a class="show" href="/vi/news/a/t-53.html">Không h4</a><a class="show h4">Không href</a></div>'
    '<ul class="pagination"><li class="active"><a>1</a></li><li><a href="/vi/news/a/page-2/">2</a></li></ul>'
    + TAIL,
    "grid-thumbnails": HEAD
    + '<div class="news_column">'
    + panel("Nổi bật", "15/06/2023 09:30:00", featured=True)
    + '</div><div class="row"><div class="thumbnail"><a href="/vi/news/a/g-61.html"><img src="x.jpg"></a>'
    '<div class="caption"><h4><a href="/vi/news/a/g-61.html" title="Lưới một">Lưới một</a></h4></div></div>'
    '<div class="thumbnail"><div class="caption"><div><h4><a href="/vi/news/a/g-62.html">Lưới <em>hai</em></a>'
    "</h4></div></div></div></div>" + TAIL,
    "two-column": HEAD
    + '<div class="news_column two_column"><div class="panel"><div class="panel-heading"><a href="/vi/news/a/">A</a>'
    '</div><div class="panel-body"><h3><a href="/vi/news/a/p-71.html">Cột</a></h3><ul class="related">'
    '<li><a href="/vi/news/a/p-72.html">Liên quan</a></li></ul></div></div></div>' + TAIL,
    "legacy-3x": HEAD
    + '<div id="news_list"><div class="news-item"><h3><a href="/vi/news/a/cu-81.html">Giao diện <br>cũ</a></h3>'
    '<span class="time">15/06/2023 09:30</span></div><div class="news-item"><h3><a href="/vi/news/a/cu-82.html" '
    'title="Có title">x</a></h3><span class="time"><!-- x -->14/06/2023</span></div></div>'
    '<div class="generate_page"><a href="/vi/news/a/">1</a> <strong> 2 </strong> <a href="/vi/news/a/page-3/">'
    "3</a></div>" + TAIL,
    "legacy-3x-no-time": HEAD
    + '<div id="news_list"><div class="news-item"><h3><a href="/vi/news/a/cu-81.html">x</a></h3></div></div>'
    + TAIL,
    "pager-active-not-a-number": category_page(
        panel("Bài", "15/06/2023 09:30:00"),
        pager='<ul class="pagination"><li class="active"><a>…</a></li><li><a href="/p/">3</a></li></ul>',
    ),
    "pager-nested-next": category_page(
        panel("Bài", "15/06/2023 09:30:00"),
        pager='<ul class="pagination"><li class="active"><a><b>1</b></a></li><li><a href="/vi/news/a/page-2/">'
        "<b>2</b>&nbsp;</a></li></ul>",
    ),
    "unknown-layout": "<html><body><p>Trang mới</p></body></html>",
    "empty-body": "",
    "whitespace-body": " \n\t ",
    "text-only": "chỉ là chữ",
    "bom": "\ufeff" + category_page(panel("Có BOM", "15/06/2023 09:30:00")),
    "xhtml-declaration": '<?xml version="1.0" encoding="utf-8"?>\n'
    + category_page(panel("XHTML", "15/06/2023")),
    # A <template>'s contents are not part of the document (soupsieve, as browsers): its items are not posts.
    "template-inside-the-list": category_page(
        panel("Bài thật", "15/06/2023 09:30:00"),
        '<template><div class="panel"><div class="panel-body"><h3><a href="/vi/news/a/t-91.html">Mẫu</a></h3>'
        '<div class="text-muted"><ul><li><em class="fa fa-clock-o"></em>hỏng</li></ul></div></div></div></template>',
        pager='<ul class="pagination"><template><li class="active"><a>7</a></li></template><li class="active">'
        '<a>2</a></li><li><a href="/vi/news/a/page-3/">3</a></li></ul>',
    ),
    "template-around-the-list": HEAD
    + "<template>"
    + category_page(panel("Trong mẫu", "15/06/2023"))
    + "</template>"
    + TAIL,
    # Real sites append statistics code or a second page after </html>: libxml2 keeps it beside the root.
    "markup-after-html": category_page(panel("Trước", "15/06/2023 09:30:00"), pager="")
    + '<div class="news_column"><div class="panel"><div class="panel-body"><h3><a href="/vi/news/a/s-92.html">Sau'
    '</a></h3><div class="text-muted"><ul><li><em class="fa fa-clock-o"></em>14/06/2023</li></ul></div></div></div>'
    "</div>" + PAGER + "<script>var _gaq = [];</script>",
    "whitespace-strings-in-a-bad-date": category_page(
        panel("Ngày hỏng", "\n   <span>\n\t</span>\r\n  hôm\x0c<b> </b>qua <pre>\n </pre>\n")
    ),
    "nul-and-controls": category_page(panel("Có\x00 NUL\x0b và\x1f điều khiển", "15/06/2023 09:30:00")),
}

ARTICLE_HEAD = (
    '<div class="news_column panel panel-default" itemtype="http://schema.org/NewsArticle" itemscope>'
    '<div class="panel-body">'
)
HOSTILE_ARTICLE = {
    "article": ARTICLE_HEAD + '<h1 class="title margin-bottom-lg" itemprop="headline">Bài &#x3A; <br>viết</h1>'
    '<span class="hidden hide d-none" itemprop="datePublished">2023-09-21T14:20:00+07:00</span>'
    '<span class="h5"><!-- ngày -->Thứ năm - 21/09/2023 14:20</span></div></div>',
    "article-zone-west": ARTICLE_HEAD + '<h1 itemprop="headline">Múi giờ</h1>'
    '<span itemprop="datePublished"> 2023-09-21T02:20:00-05:00 </span><span class="h5">Thứ năm - 21/09/2023 02:20'
    "</span></div></div>",
    "article-meta-stamp": ARTICLE_HEAD + '<meta itemprop="datePublished" content="2023-09-21T14:20:00+07:00">'
    '<h1 itemprop="headline">Meta</h1><span class="h5">21/09/2023 14:20</span></div></div>',
    "article-bad-stamp": ARTICLE_HEAD + '<h1 itemprop="headline">Hỏng</h1>'
    '<span itemprop="datePublished">2023-09-21+0714:20:00</span><span class="h5">21/09/2023</span></div></div>',
    "article-script-in-headline": ARTICLE_HEAD + '<h1 itemprop="headline">Tiêu<script>x()</script> đề'
    "<style>h1{}</style>\n<template>t</template></h1><span class=\"h5\">Chủ nhật - 24/09/2023 08:00</span></div></div>",
    "article-nfd": ARTICLE_HEAD + f'<h1 itemprop="headline">{DECOMPOSED}</h1>'
    '<span class="h5">Thứ hai - 25/09/2023 08:00</span></div></div>',
    "article-no-date": ARTICLE_HEAD + '<h1 itemprop="headline">Không ngày</h1></div></div>',
    "article-bad-date": ARTICLE_HEAD + '<h1 itemprop="headline">Ngày sai</h1><span class="h5">Thứ tám</span></div>',
    "article-outside-news-column": '<div itemtype="http://schema.org/NewsArticle"><h1 itemprop="headline">x</h1>'
    '<span class="h5">21/09/2023</span></div>',
    "article-3x": '<div id="news_detail"><h1>Bài <b>cũ</b></h1><span class="time">21/09/2023 14:20</span>'
    '<div id="hometext">x</div></div>',
    "article-3x-no-time": '<div id="news_detail"><h1>Bài cũ</h1></div>',
    "article-twice": ARTICLE_HEAD + '<h1 itemprop="headline">Một</h1><span class="h5">21/09/2023</span></div></div>'
    + ARTICLE_HEAD + '<h1 itemprop="headline">Hai</h1><span class="h5">22/09/2023</span></div></div>',
    "article-date-in-template": ARTICLE_HEAD + '<h1 itemprop="headline">Mẫu</h1><template><span class="h5">'
    "21/09/2023</span></template><span class=\"h5\">\n  <b> </b>\n  ngày hỏng</span></div></div>",
    "article-3x-in-template": '<template id="news_detail"><h1>Bài trong mẫu</h1><span class="time">21/09/2023'
    "</span></template>",
    "article-stamp-is-a-template": ARTICLE_HEAD + '<h1 itemprop="headline">Dấu</h1><template itemprop="datePublished">'
    '2023-09-21T14:20:00-05:00</template><span class="h5">21/09/2023 14:20</span></div></div>',
    "article-url-plain-page": "<p>Không phải bài viết</p>",
    "article-url-but-a-list": category_page(panel("Danh sách", "15/06/2023 09:30:00")),
}  # fmt: skip

ITEM = (
    '<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">news_1</guid>'
    "<pubDate>{date}</pubDate></item>"
)


def feed(
    *items: str, head: str = '<?xml version="1.0" encoding="utf-8"?>\n', rss: str = '<rss version="2.0">'
) -> str:
    return f"{head}{rss}<channel><title>Tin</title><link>https://x/vi/news/</link>{''.join(items)}</channel></rss>"


LINK = "https://phuong1thanhpho.tayninh.gov.vn/vi/news/cai-cach-hanh-chinh/ra-soat-1234.html"
DATE = "Sat, 3 Jun 2023 17:06:00 GMT"
HOSTILE_FEED = {
    "feed": feed(ITEM.format(title="Rà soát &#x002F; TTHC &#x3A; &amp;", link=LINK, date=DATE)),
    "feed-cdata": feed(
        ITEM.format(title="<![CDATA[Rà soát <b>TTHC</b> & khác]]>", link=f"<![CDATA[ {LINK} ]]>", date=DATE)
    ),
    "feed-undefined-entity": feed(ITEM.format(title="Có&nbsp;khoảng &copy; trắng", link=LINK, date=DATE)),
    "feed-comment-and-pi": feed(ITEM.format(title="Tiêu<!-- bỏ -->đề<?pi x?> sau", link=LINK, date=DATE)),
    "feed-child-elements": feed(
        ITEM.format(title="Có <b>thẻ</b> con", link=f"\n  {LINK}\n  ", date=f" {DATE} ")
    ),
    "feed-nfd": feed(ITEM.format(title=DECOMPOSED, link=LINK, date=DATE)),
    "feed-no-date": feed("<item><title>x</title><link>" + LINK + "</link></item>"),
    "feed-bad-date": feed(ITEM.format(title="x", link=LINK, date="hôm qua")),
    "feed-no-link": feed("<item><title>x</title><pubDate>" + DATE + "</pubDate></item>"),
    "feed-atom-link-first": feed(
        '<item xmlns:atom="http://www.w3.org/2005/Atom"><atom:link href="https://other/"/><title>x</title>'
        f"<link>{LINK}</link><pubDate>{DATE}</pubDate></item>"
    ),
    "feed-default-namespace": feed(
        ITEM.format(title="x", link=LINK, date=DATE), rss='<rss version="2.0" xmlns="http://example.org/ns">'
    ),
    "feed-nested-item": feed(
        "<item><title>ngoài</title><link>" + LINK + "</link><item><title>trong</title>"
        "<link>https://x/vi/news/a/b-9.html</link></item></item>"
    ),
    # Broken XML: bs4 closed an end tag's most recent open namesake and ignored an end tag with none.
    "feed-mismatched-end-tags": feed(
        f"<item><title>Sai </b>thẻ</title><link>{LINK}</link></item>"
        f"<item><title>Không đóng<link>{LINK}</link></item><item><title>Sau</title>"
        f"<link>{LINK}</link><pubDate>{DATE}</pubDate></item>"
    ),
    "feed-stray-end-item": feed(
        f"<item><title>Một</title></item></item><link>{LINK}</link>"
        f"<item><title>Hai</title><link>{LINK}</link></channel></item>"
    ),
    "feed-unescaped-ampersand": feed(ITEM.format(title="Hỏi & đáp <3", link=LINK + "?a=1&b=2", date=DATE)),
    "feed-doctype-entity": feed(
        ITEM.format(title="Có &ent; thực thể", link=LINK, date=DATE),
        head='<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY ent "đã khai báo">]>',
    ),
    "feed-empty": feed(),
    "feed-no-channel": '<?xml version="1.0"?><rss version="2.0"></rss>',
    "feed-not-rss": '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>x</title></feed>',
    "feed-broken": feed(ITEM.format(title="Không đóng <b>thẻ", link=LINK, date=DATE)).replace(
        "</channel>", ""
    ),
    "feed-declared-latin1": feed(
        ITEM.format(title="Tiếng Việt", link=LINK, date=DATE),
        head='<?xml version="1.0" encoding="ISO-8859-1"?>',
    ),
    "feed-no-declaration-leading-space": feed(ITEM.format(title="x", link=LINK, date=DATE), head="\n  "),
    "feed-html-served-as-feed": "<html><body>Không phải RSS</body></html>",
    "feed-empty-body": "",
}


def hostile_cases() -> Iterator[Case]:
    base = "https://phuong1thanhpho.tayninh.gov.vn"
    for name, html in HOSTILE_CATEGORY.items():
        yield Case(f"hostile/{name}", f"{base}/vi/news/tin-tuc-su-kien/page-2/", html.encode("utf-8"))
    yield Case(
        "hostile/home-without-blocks", f"{base}/vi/news/", HOSTILE_CATEGORY["entities"].encode("utf-8")
    )
    yield Case("hostile/home-empty", f"{base}/vi/news/", b"<html><body></body></html>")
    for name, html in HOSTILE_ARTICLE.items():
        yield Case(
            f"hostile/{name}", f"{base}/vi/news/cai-cach-hanh-chinh/bai-viet-1234.html", html.encode("utf-8")
        )
    for name, xml in HOSTILE_FEED.items():
        yield Case(f"hostile/{name}", f"{base}/vi/news/rss/cai-cach-hanh-chinh/", xml.encode("utf-8"), RSS)
    # A feed found by its content, not its URL; and a page saved in another charset.
    yield Case("hostile/feed-by-content", f"{base}/tin-moi.xml", HOSTILE_FEED["feed"].encode("utf-8"), RSS)
    latin = HOSTILE_CATEGORY["entities"].replace("NukeViet v4.5", "NukeViet v4.5 ").encode("utf-8")
    yield Case("hostile/declared-windows-1258", f"{base}/vi/news/tin-tuc-su-kien/", latin,
               "text/html; charset=windows-1258")  # fmt: skip


# --- the record ---------------------------------------------------------------------------------------------------


def all_cases(settings: Settings) -> list[Case]:
    cases = [*saved_cases(), *sim_cases(settings), *hostile_cases()]
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases


def result_of(case: Case, settings: Settings) -> dict[str, Any]:
    """What the parser makes of a case, as JSON: its observations and next URLs, or the error it raised."""
    try:
        parsed = NEWS.parse(case.view(), settings)
    except PageUnreadable as exc:
        return {"error": type(exc).__name__, "parser": exc.parser, "reason": exc.reason}
    found = [[f.metric, f.period, f.unit, f.value, f.text, dict(f.attributes)] for f in parsed.found]
    result: dict[str, Any] = json.loads(json.dumps({"found": found, "next": parsed.next_urls}))
    return result


def load_expected() -> dict[str, Any]:
    if not EXPECTED.exists():
        return {}
    return dict(json.loads(EXPECTED.read_text(encoding="utf-8")))


def write_expected(record: dict[str, Any]) -> None:
    # One case per line: a change shows as the lines of the cases it concerns.
    lines = [f"{json.dumps(name)}: {json.dumps(entry, ensure_ascii=False, sort_keys=True)}"
             for name, entry in sorted(record.items())]  # fmt: skip
    EXPECTED.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")


@pytest.fixture(scope="module")
def news_settings() -> Settings:
    return load_settings(CONFIG, environ={})


def test_every_news_page_reads_as_recorded(news_settings: Settings) -> None:
    cases = all_cases(news_settings)
    record = {c.name: {"input": c.digest(), "result": result_of(c, news_settings)} for c in cases}
    if RECORD:
        write_expected(record)
        pytest.skip(f"recorded {len(record)} cases in {EXPECTED}")
    expected = load_expected()
    assert set(record) == set(expected), "cases added or removed: record with CCHC_RECORD_NEWS=1"
    changed_input = [n for n in record if record[n]["input"] != expected[n]["input"]]
    assert changed_input == [], "these pages are not the ones recorded (sim/ or tests changed them)"
    differ = {n: (expected[n]["result"], record[n]["result"]) for n in record
              if record[n]["result"] != expected[n]["result"]}  # fmt: skip
    assert differ == {}, f"{len(differ)} of {len(record)} pages read differently: {sorted(differ)[:20]}"


def test_the_record_covers_every_kind_of_result(news_settings: Settings) -> None:
    """The record is worth something only if it holds posts of every view, articles, feeds and each error."""
    expected = load_expected()
    assert expected, "no record: run with CCHC_RECORD_NEWS=1"
    results = [e["result"] for e in expected.values()]
    metrics = {f[0] for r in results for f in r.get("found", [])}
    assert {
        "news_post",
        "news_page",
        "news_article",
        "news_feed_item",
        "news_home",
        "news_site_moved",
    } <= metrics
    views = {f[5].get("view") for r in results for f in r.get("found", []) if f[0] == "news_page"}
    assert {"viewcat_page", "viewcat_top", "viewcat_grid_new", "viewcat_list_new", "viewcat_main",
            "viewcat_two_column", "nukeviet-3", "empty", ""} <= views  # fmt: skip
    parsers = {r["parser"] for r in results if "error" in r}
    assert {"nukeviet-category", "nukeviet-article", "nukeviet-rss", "nukeviet-home"} <= parsers
