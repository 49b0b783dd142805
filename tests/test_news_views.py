"""Every news view of NukeViet 4.x's default theme is recognised from its markup, under every URL form a site may
use, and `cchc parse news` prints the posts of a saved page of each; a layout it does not know still exits 3.

Pages of the views the simulation serves are saved from it; viewcat_top, viewcat_two_column and
viewcat_main_right, which it does not serve, are small pages in tests/data/news written after the 4.5.05 theme.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from test_cli_probes import cchc

from cchc.settings import Settings
from cli.simlink import world_spec
from conftest import CONFIG, http_get
from probes._base import SnapshotView
from probes.news import PROBE as NEWS
from sim import Simulation, SiteSettings

DATA = Path(__file__).parent / "data" / "news"
BASE = "https://phuong1thanhpho.tayninh.gov.vn"
VIEWS = {
    "tin-tuc-su-kien": "viewcat_page_new",
    "cai-cach-hanh-chinh": "viewcat_page_old",
    "thong-bao": "viewcat_list_new",
    "van-hoa-xa-hoi": "viewcat_grid_new",
}
SEEN_AS = {"viewcat_page_new": "viewcat_page", "viewcat_page_old": "viewcat_page",
           "viewcat_list_new": "viewcat_list_new", "viewcat_grid_new": "viewcat_grid_new"}  # fmt: skip


@pytest.fixture(scope="module")
def views_sim(settings: Settings) -> Any:
    spec = world_spec(settings)
    site = SiteSettings(views=tuple(VIEWS.items()))
    portals = tuple(dataclasses.replace(p, site=site) if p.id == "phuong-1" else p for p in spec.portals)
    spec = dataclasses.replace(spec, portals=portals)
    empty_site = SiteSettings(empty_categories=("van-hoa-xa-hoi",))
    portals = tuple(
        dataclasses.replace(p, site=empty_site) if p.id == "phuong-2" else p for p in spec.portals
    )
    with Simulation(dataclasses.replace(spec, portals=portals)) as sim:
        yield sim


def parse(url: str, body: str, settings: Settings, where: str | None = None) -> list[Any]:
    view = SnapshotView(url=url, body=body.encode("utf-8"), headers=(("Content-Type", "text/html; charset=utf-8"),),
                        final_url=where or url)  # fmt: skip
    return NEWS.parse(view, settings).found


def run_parse(tmp_path: Path, body: bytes, url: str) -> tuple[int, list[dict[str, Any]], str]:
    page = tmp_path / "page.html"
    page.write_bytes(body)
    result = cchc(CONFIG, "parse", "news", str(page), "--url", url)
    return result.returncode, [json.loads(line) for line in result.stdout.splitlines()], result.stderr


@pytest.mark.parametrize("category", sorted(VIEWS))
def test_parse_news_prints_the_posts_of_each_served_view(
    views_sim: Simulation, settings: Settings, tmp_path: Path, category: str
) -> None:
    body = http_get(views_sim.url("phuong-1") + f"/vi/news/{category}/").content
    code, lines, err = run_parse(tmp_path, body, f"{BASE}/vi/news/{category}/")
    assert code == 0, err
    posts = [r for r in lines if r.get("metric") == "news_post"]
    (page,) = [r for r in lines if r.get("metric") == "news_page"]
    assert page["attributes"]["view"] == SEEN_AS[VIEWS[category]]
    listed = [p for p in views_sim.world.posts["phuong-1"] if category in p.categories]
    expected = listed[:20] if VIEWS[category] != "viewcat_page_old" else listed[::-1][:20]
    assert [p["attributes"]["post_id"] for p in posts] == [p.id for p in expected]
    dated = [p for p in posts if p["attributes"]["listed"] is not None]
    if VIEWS[category] == "viewcat_list_new":
        assert dated == []  # titles only: each date comes from the article
    elif VIEWS[category] == "viewcat_grid_new":
        assert [p["attributes"]["post_id"] for p in dated] == [expected[0].id]
    else:
        assert len(dated) == 20


def test_an_empty_category_is_a_recognised_zero(
    views_sim: Simulation, settings: Settings, tmp_path: Path
) -> None:
    body = http_get(views_sim.url("phuong-2") + "/vi/news/van-hoa-xa-hoi/").content
    code, lines, err = run_parse(
        tmp_path, body, "https://phuong2thanhpho.tayninh.gov.vn/vi/news/van-hoa-xa-hoi/"
    )
    assert code == 0, err
    (page,) = lines
    assert page["metric"] == "news_page" and page["value"] == 0 and page["attributes"]["view"] == "empty"
    assert page["attributes"]["next"] is None


@pytest.mark.parametrize(
    ("name", "url", "view", "dated", "undated"),
    [
        ("viewcat_top.html", f"{BASE}/vi/news/thong-bao/", "viewcat_top", [3790], [3781, 3770]),
        ("viewcat_two_column.html", f"{BASE}/vi/news/tin-tuc-su-kien/", "viewcat_two_column", [], [3795, 3786, 3760]),
        ("viewcat_main_right.html", f"{BASE}/vi/news/tin-tuc-su-kien/", "viewcat_main", [], [3795, 3786]),
    ],
)  # fmt: skip
def test_parse_news_reads_the_views_the_simulation_does_not_serve(
    tmp_path: Path, name: str, url: str, view: str, dated: list[int], undated: list[int]
) -> None:
    code, lines, err = run_parse(tmp_path, (DATA / name).read_bytes(), url)
    assert code == 0, err
    posts = [r for r in lines if r.get("metric") == "news_post"]
    (page,) = [r for r in lines if r.get("metric") == "news_page"]
    assert page["attributes"]["view"] == view
    assert [p["attributes"]["post_id"] for p in posts if p["attributes"]["listed"]] == dated
    assert [p["attributes"]["post_id"] for p in posts if not p["attributes"]["listed"]] == undated


def test_a_layout_it_does_not_know_still_exits_3(tmp_path: Path) -> None:
    body = b'<html><head><meta name="generator" content="NukeViet v4.5"></head><body><div class="posts"></div></body></html>'
    code, lines, err = run_parse(tmp_path, body, f"{BASE}/vi/news/thong-bao/")
    assert code == 3 and lines == [] and "layout not recognised by news/nukeviet-category" in err


@pytest.mark.parametrize(
    ("requested", "served", "category", "page"),
    [
        (
            "/vi/news/thong-bao/page-2/",
            "/index.php/vi/news/thong-bao/page-2/",
            "thong-bao",
            2,
        ),  # no rewrite rules
        ("/index.php?language=vi&nv=news&op=thong-bao/page-2", None, "thong-bao", 2),  # rewriting off
        ("/index.php?nv=news&op=thong-bao", None, "thong-bao", 1),  # no language variable
        ("/news/thong-bao/page-2/", None, "thong-bao", 2),  # no language segment
    ],
)
def test_every_url_form_names_the_category_and_page(
    views_sim: Simulation, settings: Settings, requested: str, served: str | None, category: str, page: int
) -> None:
    body = http_get(views_sim.url("phuong-1") + "/vi/news/tin-tuc-su-kien/page-2/").text
    for scheme in ("https", "http"):
        base = BASE.replace("https", scheme)
        found = parse(base + requested, body, settings, base + served if served else None)
        (info,) = [f for f in found if f.metric == "news_page"]
        assert (info.attributes["category"], info.attributes["page"]) == (category, page)
        assert info.unit == "phuong-1" and len([f for f in found if f.metric == "news_post"]) == 20


def test_the_module_home_is_recognised_and_never_counted(views_sim: Simulation, settings: Settings) -> None:
    body = http_get(views_sim.url("phuong-1") + "/vi/news/").text
    for url in (f"{BASE}/vi/news/", f"{BASE}/index.php?language=vi&nv=news"):
        (found,) = parse(url, body, settings)
        assert found.metric == "news_home" and found.value
