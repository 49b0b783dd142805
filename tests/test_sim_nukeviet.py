"""The simulated NukeViet 4.5 portals reproduce the real default theme and its quirks (portals.md §4, appendix)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime
from typing import Any

import feedparser
import httpx
import loopback
import pytest
from bs4 import BeautifulSoup

from sim import Simulation, WorldSpec
from sim.world import VN_TZ


def get(sim: Simulation, site: str, path: str) -> httpx.Response:
    return loopback.get(sim.url(site) + path, follow_redirects=False)


def test_category_page_head_names_nukeviet_its_canonical_and_its_feed(simulation: Simulation) -> None:
    soup = BeautifulSoup(get(simulation, "phuong-1", "/vi/news/tin-tuc-su-kien/").text, "lxml")
    assert soup.select_one('meta[name="generator"]')["content"] == "NukeViet v4.5"  # type: ignore[index]
    canonical = soup.select_one('link[rel="canonical"]')["href"]  # type: ignore[index]
    assert canonical == simulation.url("phuong-1") + "/vi/news/tin-tuc-su-kien/"
    feed = soup.select_one('link[rel="alternate"][type="application/rss+xml"]')["href"]  # type: ignore[index]
    assert feed == simulation.url("phuong-1") + "/vi/news/rss/"


def test_list_items_use_the_default_theme_markup(simulation: Simulation) -> None:
    soup = BeautifulSoup(get(simulation, "phuong-1", "/vi/news/tin-tuc-su-kien/").text, "lxml")
    bodies = soup.select("div.news_column > div.panel.panel-default > div.panel-body")
    assert len(bodies) == 20
    assert "featured" in bodies[0]["class"] and bodies[0].select_one("h2 > a[href][title]")
    assert all(b.select_one("h3 > a[href][title]") for b in bodies[1:])
    for body in bodies:
        items = body.select("div.text-muted > ul.list-unstyled.list-inline > li")
        clock = next(li for li in items if li.select_one("em.fa.fa-clock-o"))
        assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", clock.get_text(strip=True))
        views = next(li for li in items if li.select_one("em.fa.fa-eye")).get_text(strip=True)
        assert re.fullmatch(r"Xem: \d{1,3}(\.\d{3})*", views)
        assert body.select_one("img.imghome")


def test_other_posts_and_top_hits_link_posts_that_are_not_this_pages(simulation: Simulation) -> None:
    soup = BeautifulSoup(get(simulation, "phuong-1", "/vi/news/tin-tuc-su-kien/").text, "lxml")
    items = {
        a["href"]
        for a in soup.select("div.news_column div.panel-body h2 > a, div.news_column div.panel-body h3 > a")
    }
    assert soup.find("h4", string="Các tin khác") is not None
    others = {a["href"] for a in soup.select("ul.related.list-items a")}
    assert others and not (others & items)
    assert soup.select("ul.block_tophits a")


def test_pagination_has_the_unclosed_item_and_trailing_slashes(simulation: Simulation) -> None:
    html = get(simulation, "phuong-1", "/vi/news/tin-tuc-su-kien/page-2/").text
    assert '<li class="active"><a href="javascript:void(0)">2</a><li>' in html
    soup = BeautifulSoup(html, "lxml")
    hrefs = [
        str(a["href"]) for a in soup.select("ul.pagination a[href]") if a["href"] != "javascript:void(0)"
    ]
    assert "/vi/news/tin-tuc-su-kien/" in hrefs and "/vi/news/tin-tuc-su-kien/page-3/" in hrefs
    assert all(h.endswith("/") for h in hrefs)


@pytest.mark.parametrize(
    ("path", "location"),
    [
        (
            "/vi/news/tin-tuc-su-kien/page-999/",
            "/vi/news/tin-tuc-su-kien/",
        ),  # past the last page: back to page 1
        ("/vi/news/khong-co-chuyen-muc/", "/vi/news/"),  # unknown category
        ("/vi/news/tin-tuc-su-kien/page-2", "/vi/news/tin-tuc-su-kien/page-2/"),  # no trailing slash
        ("/vi/news/tin-tuc-su-kien", "/vi/news/tin-tuc-su-kien/"),
    ],
)
def test_nukeviet_redirects(simulation: Simulation, path: str, location: str) -> None:
    response = get(simulation, "phuong-2", path)
    assert (response.status_code, response.headers["location"]) == (301, location)


def test_link_rel_next_only_on_a_fresh_render(make_simulation: Any) -> None:
    with make_simulation() as sim:
        fresh = get(sim, "phuong-3", "/vi/news/tin-tuc-su-kien/").text
        cached = get(sim, "phuong-3", "/vi/news/tin-tuc-su-kien/").text
    assert 'rel="next"' in fresh and 'rel="next"' not in cached


def test_article_page_dates_and_escaped_title(simulation: Simulation) -> None:
    world = simulation.world
    edited = next(
        p for p in world.posts["thanhpho"] if p.edited.date() != p.published.date() and ":" in p.title
    )
    response = get(simulation, "thanhpho", f"/vi/news/{edited.path_tail}")
    assert response.status_code == 200
    assert "&#x3A;" in response.text  # NukeViet escapes ':' (and '/') in titles
    soup = BeautifulSoup(response.text, "lxml")
    article = soup.select_one('div.news_column.panel[itemtype="http://schema.org/NewsArticle"]')
    assert article is not None
    assert article.select_one("h1.title[itemprop=headline]").get_text() == edited.title  # type: ignore[union-attr]
    shown = article.select_one("span[itemprop=datePublished]").get_text()  # type: ignore[union-attr]
    assert datetime.fromisoformat(shown) == edited.edited  # max(edit, publication): the last edit here
    header = article.select_one("span.h5").get_text()  # type: ignore[union-attr]
    assert header.endswith(edited.published.strftime(" - %d/%m/%Y %H:%M")) and header.startswith(
        ("Thứ", "Chủ nhật")
    )
    mangled = soup.select_one('meta[property="article:published_time"]')["content"]  # type: ignore[index]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\+07\d{2}:\d{2}:\d{2}", str(mangled))
    assert article.select_one("div#news-bodyhtml.bodytext p") is not None
    assert article.select_one("p.h5.text-right").get_text().startswith("Tác giả:")  # type: ignore[union-attr]


def test_article_at_a_wrong_category_redirects_to_its_own(simulation: Simulation) -> None:
    post = simulation.world.posts["phuong-1"][0]
    wrong = "cai-cach-hanh-chinh" if post.category != "cai-cach-hanh-chinh" else "thong-bao"
    response = get(simulation, "phuong-1", f"/vi/news/{wrong}/{post.alias}-{post.id}.html")
    assert response.status_code == 301 and response.headers["location"] == f"/vi/news/{post.path_tail}"


def test_rss_is_a_real_feed_with_nukevietss_date_bug(simulation: Simulation) -> None:
    response = get(simulation, "phuong-1", "/vi/news/rss/")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.generator == "NukeViet v4.0"
    assert len(feed.entries) == 30
    posts = {p.id: p for p in simulation.world.posts["phuong-1"]}
    for entry in feed.entries:
        post = posts[int(entry.guid.removeprefix("news_"))]
        assert entry.title == post.title  # entities decoded
        stamp = entry.published  # 'Sat, 3 Jun 2023 17:06:00 GMT': the minutes field holds the month
        utc = post.published.astimezone(UTC)
        assert stamp.endswith(f" {utc.hour:02d}:{utc.month:02d}:{utc.second:02d} GMT")
        assert f" {utc.day} " in stamp


def test_category_rss_has_only_that_category(simulation: Simulation) -> None:
    feed = feedparser.parse(get(simulation, "phuong-1", "/vi/news/rss/cai-cach-hanh-chinh/").content)
    assert feed.entries and all("/cai-cach-hanh-chinh/" in e.link for e in feed.entries)


def test_robots_and_uploads(simulation: Simulation) -> None:
    robots = get(simulation, "xa-tan-binh", "/robots.txt").text
    assert "Disallow: /admin/" in robots
    image = get(simulation, "xa-tan-binh", "/uploads/news/2023_06/thumb.jpg")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")


def test_dates_are_local_time(simulation: Simulation) -> None:
    post = simulation.world.posts["phuong-2"][0]
    assert post.published.tzinfo == VN_TZ


def test_legacy_3x_theme_variant(spec: WorldSpec) -> None:
    portals = tuple(
        dataclasses.replace(p, platform="nukeviet-3") if p.id == "phuong-ninh-son" else p
        for p in spec.portals
    )
    with Simulation(dataclasses.replace(spec, portals=portals)) as sim:
        html = get(sim, "phuong-ninh-son", "/vi/news/tin-tuc-su-kien/").text
        detail_post = sim.world.posts["phuong-ninh-son"][0]
        detail = get(sim, "phuong-ninh-son", f"/vi/news/{detail_post.path_tail}").text
    soup = BeautifulSoup(html, "lxml")
    assert soup.select_one('meta[name="generator"]')["content"] == "NukeViet v3.4"  # type: ignore[index]
    assert len(soup.select("#news_list .news-item h3 a")) == 20
    assert soup.select_one(".generate_page strong").get_text() == "1"  # type: ignore[union-attr]
    detail_soup = BeautifulSoup(detail, "lxml")
    assert detail_soup.select_one("#news_detail h1").get_text() == detail_post.title  # type: ignore[union-attr]
    assert detail_soup.select_one("#news_detail span.time") is not None


def test_successor_ward_site_is_up_with_no_posts(simulation: Simulation) -> None:
    """An empty category as NukeViet 4.4-4.6 render it: an empty div.news_column, and no "no posts" notice."""
    response = get(simulation, "phuong-tan-ninh", "/vi/news/tin-tuc-su-kien/")
    assert response.status_code == 200 and "Chưa có tin" not in response.text
    soup = BeautifulSoup(response.text, "lxml")
    (column,) = soup.select("div.news_column")
    assert column.find_all(recursive=False) == [] and not soup.select("ul.pagination")
