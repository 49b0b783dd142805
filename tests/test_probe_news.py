"""The news probe over real HTTP against the simulated NukeViet portals: exact counts per unit and month,
markup drift as parse failures on that site only, a moved ward site recorded as moved, not as zero posts.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import loopback
import pytest
from probe_helpers import (
    FullCrawl,
    observations,
    open_test_store,
    parse_failures,
    pointed,
    posts_by_month,
    run_probes,
)

from cchc.settings import Settings
from cli.simlink import world_spec
from conftest import SimulationFactory
from crawler import Capture, Outcome, Target
from crawler.content import ContentError, decode_content
from probes._base import LayoutNotRecognised, PageUnreadable, SnapshotView
from probes._reparse import stored_view
from probes._session import read, view_of
from probes.news import PROBE as NEWS
from sim import FaultSpec, Simulation


def test_posts_per_unit_and_month_equal_the_ground_truth(
    settings: Settings, full_crawl: FullCrawl, truth: dict[str, Any], tmp_path: Path
) -> None:
    report = full_crawl.report  # the run's crawl of every unit, the news among its probes
    assert report.counts.parse_failures == 0 and set(report.counts.snapshots) == {"ok"}
    _, store = full_crawl.copy(settings, tmp_path)
    posts, reform = posts_by_month(store)
    for unit in settings.units_in_inspection():
        for month, cell in truth["units"][unit.id]["months"].items():
            assert len(posts[(unit.id, month)]) == cell["news_posts"], (unit.id, month)
            assert len(reform[(unit.id, month)]) == cell["news_posts_cchc"], (unit.id, month)
    pages = observations(store, "news_page")
    assert all(p.snapshot_id for p in pages) and {p.attributes["theme"] for p in pages} == {"nukeviet-4.5"}


def test_the_walk_stops_at_news_since(settings: Settings, simulation: Simulation, tmp_path: Path) -> None:
    since = settings.news.since.replace(year=2023, month=6)
    later = settings.model_copy(update={"news": settings.news.model_copy(update={"since": since})})
    store = open_test_store(tmp_path)
    run_probes(pointed(later, simulation), store, ["news"], ["phuong-1"])
    pages = observations(store, "news_page")
    by_category: dict[str, list[Any]] = {}
    for page in sorted(pages, key=lambda p: p.attributes["page"]):
        by_category.setdefault(page.attributes["category"], []).append(page)
    margin = (since - timedelta(days=2)).isoformat()  # a foreign zone moves a printed date by a day at most
    for category, walked in by_category.items():
        *before, last = walked
        assert all(p.attributes["oldest"][:10] >= margin for p in before), category
        assert last.attributes["oldest"][:10] < margin or last.attributes["next"] is None, category
    assert sum(len(w) for w in by_category.values()) < 12  # versus 20 pages back to 2022


def test_markup_drift_on_one_site_is_a_parse_failure_there_only(
    settings: Settings, make_simulation: SimulationFactory, truth: dict[str, Any], tmp_path: Path
) -> None:
    with make_simulation(FaultSpec("phuong-2", "drift")) as sim:
        store = open_test_store(tmp_path)
        run_probes(pointed(settings, sim), store, ["news"], ["phuong-2", "phuong-3"])
        host = sim.url("phuong-2").removeprefix("http://")
    failures = parse_failures(store)
    assert failures and all(s.unit == "phuong-2" for _, s in failures)
    assert all(f.parser == "news/nukeviet-category" and host in f.reason for f, _ in failures)
    posts, _ = posts_by_month(store)
    assert not any(unit == "phuong-2" for unit, _ in posts)  # no posts, and no zeros: failures
    for month, cell in truth["units"]["phuong-3"]["months"].items():
        assert len(posts[("phuong-3", month)]) == cell["news_posts"]


def test_a_moved_ward_site_is_recorded_as_moved_not_as_zero_posts(
    settings: Settings, make_simulation: SimulationFactory, tmp_path: Path
) -> None:
    with make_simulation(FaultSpec("phuong-ninh-son", "moved")) as sim:
        store = open_test_store(tmp_path)
        run_probes(pointed(settings, sim), store, ["news"], ["phuong-ninh-son"])
        successor = sim.url("phuong-binh-minh")
    moved = observations(store, "news_site_moved")
    assert moved and all(
        o.unit == "phuong-ninh-son" and o.text and o.text.startswith(successor) for o in moved
    )
    assert observations(store, "news_post") == []
    assert parse_failures(store) == []


def test_the_legacy_3x_theme_is_read_too(settings: Settings, spec: Any, tmp_path: Path) -> None:
    portals = tuple(
        dataclasses.replace(p, platform="nukeviet-3") if p.id == "xa-tan-binh" else p for p in spec.portals
    )
    with Simulation(dataclasses.replace(spec, portals=portals)) as sim:
        store = open_test_store(tmp_path)
        run_probes(pointed(settings, sim), store, ["news"], ["xa-tan-binh"])
        expected = sim.truth()["units"]["xa-tan-binh"]["months"]
    posts, reform = posts_by_month(store)
    for month, cell in expected.items():
        assert len(posts[("xa-tan-binh", month)]) == cell["news_posts"], month
        assert len(reform[("xa-tan-binh", month)]) == cell["news_posts_cchc"], month
    assert {o.attributes["theme"] for o in observations(store, "news_page")} == {"nukeviet-3"}


def test_a_theme_change_mid_run_fails_loudly_from_that_page_on(
    settings: Settings, make_simulation: SimulationFactory, tmp_path: Path
) -> None:
    """The site answers page 1 in the default theme, then switches: the walk stops with a parse failure."""
    with make_simulation(FaultSpec("phuong-1", "drift", path="/vi/news/tin-tuc-su-kien/page-2/")) as sim:
        store = open_test_store(tmp_path)
        target = pointed(settings, sim)
        target = target.model_copy(
            update={"unit": [u.model_copy(update={"news_categories": []}) for u in target.unit]}
        )
        run_probes(target, store, ["news"], ["phuong-1"])
    failures = parse_failures(store)
    assert [s.url.endswith("/tin-tuc-su-kien/page-2/") for _, s in failures] == [True]
    pages = [o for o in observations(store, "news_page") if o.attributes["category"] == "tin-tuc-su-kien"]
    assert [o.attributes["page"] for o in pages] == [1]


def view(url: str, body: str, **kw: Any) -> SnapshotView:
    return SnapshotView(
        url=url, body=body.encode("utf-8"), headers=(("Content-Type", "text/html; charset=utf-8"),), **kw
    )


def test_parse_reads_escaped_titles_dates_and_views(settings: Settings, simulation: Simulation) -> None:

    url = settings.portal_by_id("phuong-1").base_url  # the real host: the parser finds the portal by URL
    body = loopback.get(simulation.url("phuong-1") + "/vi/news/tin-tuc-su-kien/").text
    parsed = NEWS.parse(view(url + "/vi/news/tin-tuc-su-kien/", body), settings)
    posts = [f for f in parsed.found if f.metric == "news_post"]
    assert len(posts) == 20 and all(f.unit == "phuong-1" for f in posts)
    newest = simulation.world.posts["phuong-1"]
    by_id = {p.id: p for p in newest}
    for found in posts:
        post = by_id[int(found.attributes["post_id"])]
        assert found.text == post.title and found.attributes["published"] == post.published.isoformat()
        assert found.attributes["views"] == post.views
    assert parsed.next_urls == [url + "/vi/news/tin-tuc-su-kien/page-2/"]


def test_a_gzipped_page_reads_the_same_from_the_fetcher_the_browser_and_the_store(
    settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    """Real portals gzip; the simulation does not, so the captures are made here from a real page. The fetcher
    keeps the body as sent (gzip); Chromium hands it out decoded under the same Content-Encoding header."""
    import gzip

    url = settings.portal_by_id("phuong-1").base_url + "/vi/news/tin-tuc-su-kien/"
    page = loopback.get(simulation.url("phuong-1") + "/vi/news/tin-tuc-su-kien/").content
    headers = (("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"))
    made = {
        "http": Capture(Target(url, probe="news", unit="phuong-1"), Outcome.OK, datetime.now(UTC), status=200,
                        response_headers=headers, body=gzip.compress(page)),
        "browser": Capture(Target(url, render="browser", probe="news", unit="phuong-1"), Outcome.OK,
                           datetime.now(UTC), status=200, response_headers=headers, body=page, dom=page.decode()),
    }  # fmt: skip
    store = open_test_store(tmp_path)
    run = store.begin_run("test")
    for render, capture in made.items():
        snapshot = store.store(run.id or 0, capture)
        for how, seen in (("crawl", view_of(capture, snapshot)),
                          ("reparse", stored_view(store, snapshot, store.blob_links(snapshot.id or 0)))):  # fmt: skip
            assert seen.body == page, f"{render} capture, {how}"
            posts = [f for f in NEWS.parse(seen, settings).found if f.metric == "news_post"]
            assert len(posts) == 20, f"{render} capture, {how}"
    store.finish_run(run.id or 0)
    store.close()


def test_a_body_that_is_not_what_its_encoding_says_is_a_clear_error(settings: Settings) -> None:
    with pytest.raises(ContentError, match="not valid gzip"):
        decode_content(b"<html>not gzip</html>", "gzip", max_bytes=10_000)
    decoded = decode_content(b"<html>decoded</html>", "gzip", max_bytes=10_000, already_decoded=True)
    assert decoded == b"<html>decoded</html>"
    broken = Capture(Target("http://x.invalid/", probe="news"), Outcome.OK, datetime.now(UTC), status=200,
                     response_headers=(("Content-Encoding", "gzip"),), body=b"<html>not gzip</html>")  # fmt: skip
    seen = view_of(broken)
    # The parser never reads bytes that are not what their encoding says: the snapshot is unreadable, recorded.
    assert seen.body == b"" and "not valid gzip" in seen.body_error
    with pytest.raises(PageUnreadable, match=r"^content: http://x\.invalid/: the body is not valid gzip"):
        read(NEWS, seen, settings)


def test_parse_refuses_an_unknown_layout(settings: Settings) -> None:
    with pytest.raises(LayoutNotRecognised, match="no NukeViet list items"):
        NEWS.parse(
            view(
                "https://phuong1thanhpho.tayninh.gov.vn/vi/news/tin-tuc-su-kien/",
                "<html><body><p>Trang mới</p></body></html>",
            ),
            settings,
        )


def test_parse_of_an_article_reads_the_visible_date_not_the_last_edit(
    settings: Settings, simulation: Simulation
) -> None:

    post = next(p for p in simulation.world.posts["phuong-2"] if p.edited.date() != p.published.date())
    body = loopback.get(simulation.url("phuong-2") + f"/vi/news/{post.path_tail}").text
    base = settings.portal_by_id("phuong-2").base_url
    (found,) = NEWS.parse(view(f"{base}/vi/news/{post.path_tail}", body), settings).found
    assert found.metric == "news_article" and found.period == f"{post.published:%Y-%m}"
    assert found.attributes["published"] == post.published.replace(second=0).isoformat()


def test_rss_items_never_carry_a_month(settings: Settings, simulation: Simulation) -> None:

    body = loopback.get(simulation.url("phuong-1") + "/vi/news/rss/").text
    found = NEWS.parse(
        view(settings.portal_by_id("phuong-1").base_url + "/vi/news/rss/", body), settings
    ).found
    assert (
        len(found) == 30
        and {f.metric for f in found} == {"news_feed_item"}
        and {f.period for f in found} == {"instant"}
    )


def test_world_spec_follows_the_settings(settings: Settings) -> None:
    assert world_spec(settings).portal("phuong-1").categories == tuple(
        settings.portal_by_id("phuong-1").categories
    )
