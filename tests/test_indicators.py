"""The indicator table: equal to the one computed directly from the simulation's own data (points, bands
and ranks included) for a month, a quarter and a year; N/A with the reason where evidence is missing;
weights are a config edit; the analysts' API and `cchc indicators`."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from probe_helpers import FullCrawl, open_test_store, pointed, run_probes

import indicators
import indicators.observed
from cchc.errors import ConfigError
from cchc.settings import Settings
from cli.simlink import truth_figures, write_pointed_config
from cli_process import run_cli
from conftest import REPO, SimulationFactory, patient
from evidence import EvidenceStore
from indicators.definitions import load_definitions
from indicators.observed import raw_figures
from indicators.reconcile import reconcile
from indicators.scorecard import COLUMNS, band_of, compute, half_up, parse_period, period_cells, shared_ranks
from sim import FaultSpec

COMPARED = [c for c in COLUMNS if c not in ("observation_ids", "snapshot_ids")]


@pytest.fixture(scope="module")
def crawled(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings, full_crawl: FullCrawl
) -> Iterator[tuple[Settings, EvidenceStore]]:
    """A copy of the run's crawl of the whole simulation (every unit, every probe), kept for the module's tests."""
    assert full_crawl.report.counts.parse_failures == 0
    target, store = full_crawl.copy(settings, tmp_path_factory.mktemp("crawl"))
    yield target, store
    store.close()


@pytest.fixture(scope="module")
def figures(crawled: tuple[Settings, EvidenceStore]) -> pd.DataFrame:
    target, store = crawled
    return raw_figures(store.engine, target)


# Whole years that the simulation has whole: its data end on its as-of date (30/9/2023).
@pytest.mark.parametrize("period", ["2023-09", "2023-Q3", "2022", "2023-H1", "2022-Q4", "2023-01..2023-08"])
def test_the_table_from_a_crawl_equals_the_table_from_the_simulations_own_data(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame, truth: dict[str, Any], period: str
) -> None:
    target, _ = crawled
    definitions = load_definitions(target.indicators.file)
    units = target.units_in_inspection()
    from_crawl = compute(figures, units, definitions, parse_period(period))
    from_truth = compute(truth_figures(truth), units, definitions, parse_period(period))
    assert len(from_crawl) == len(units) * (len(definitions.indicator) + len(definitions.reported_only) + 3)
    left = from_crawl[COMPARED].drop(columns=["reason"]).astype(object).fillna("∅").astype(str)
    right = from_truth[COMPARED].drop(columns=["reason"]).astype(object).fillna("∅").astype(str)
    pd.testing.assert_frame_equal(left, right)
    scored = from_crawl[from_crawl["status"] == "ok"]
    assert len(scored) > 10 * len(units) and scored["points"].notna().all()
    totals = from_crawl[from_crawl["indicator"] == "TOTAL_766"]
    assert totals[totals["kind"] != "phong"]["band"].notna().all()


# The dashboard's groups, as our rule set groups them (its CLGQ and TTTT together are our group 3).
OUR_GROUP = {"CKMB": "CKMB", "TDGQ": "TDGQ", "CLGQ": "DVTT", "TTTT": "DVTT", "MDSH": "MDSH", "MDHL": "MDHL"}


def test_reconciliation_finds_each_planted_discrepancy_and_agrees_everywhere_else(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame, truth: dict[str, Any]
) -> None:
    """Every month of the simulation, every ward: a published group score our crawled evidence contradicts is
    a finding exactly where the simulated dashboard planted one; where we score a whole group (TDGQ), our
    points equal the published ones; each scored indicator equals the dashboard's own part."""
    target, store = crawled
    definitions = load_definitions(target.indicators.file)
    months = sorted(truth["units"]["phuong-1"]["months"])
    checks = reconcile(figures, target.units_in_inspection(), definitions, months)
    planted = {(d["unit"], d["period"], OUR_GROUP[d["group"]]): d for d in truth["i766_discrepancies"]}
    assert len(planted) == 3
    findings = {(c.unit, c.month, c.group): c for c in checks if c.finding}
    assert set(findings) == set(planted)
    wards = [u for u in target.units_in_inspection() if u.kind != "phong"]
    assert len(checks) == len(wards) * len(months) * 5 and not [
        c for c in checks if c.status == "no_published"
    ]
    tolerance = definitions.reconciliation.tolerance
    for check in checks:
        if check.group == "TDGQ" and not check.finding:
            assert check.status == "equal" and abs((check.published or 0) - check.computed) <= tolerance
        parts = truth["units"][check.unit]["i766_parts"][check.month]
        for part in check.parts:
            if part.status == "ok" and part.points is not None:
                assert part.points == pytest.approx(parts[part.indicator], abs=0.005), (check.month, part)
    for key, finding in findings.items():
        expected = planted[key]
        assert finding.published == pytest.approx(expected["published"])
        assert finding.gap > tolerance and finding.published_snapshot_ids and finding.snapshot_ids
        scored = [p for p in finding.parts if p.status == "ok"]
        assert scored and all(v is not None for p in scored for _, v in p.inputs)
        line = finding.describe()
        assert all(p.indicator in line for p in scored) and f"{finding.published:.2f}" in line
        from sqlmodel import Session, col, select

        from evidence import Snapshot

        cited = {*finding.snapshot_ids, *finding.published_snapshot_ids}
        with Session(store.engine) as session:
            assert set(session.exec(select(Snapshot.id).where(col(Snapshot.id).in_(cited))).all()) == cited


def test_every_scored_cell_names_its_sources(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame
) -> None:
    target, store = crawled
    frame = indicators.table("2023-Q3", settings=target, raw=figures)
    scored = frame[(frame["status"] == "ok") & (frame["scoring"] != "total")]
    assert all(
        len(o) > 0 and len(s) > 0
        for o, s in zip(scored["observation_ids"], scored["snapshot_ids"], strict=True)
    )
    from sqlmodel import Session, col, select

    from evidence import Observation, Snapshot

    cited = {i for ids in scored["snapshot_ids"] for i in ids}
    with Session(store.engine) as session:
        found = set(session.exec(select(Snapshot.id).where(col(Snapshot.id).in_(cited))).all())
        observed = {i for ids in scored["observation_ids"] for i in ids}
        found_obs = set(session.exec(select(Observation.id).where(col(Observation.id).in_(observed))).all())
    assert found == cited and found_obs == observed


def test_statuses_are_never_a_silent_zero(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame
) -> None:
    target, _ = crawled
    frame = indicators.table("2023-09", settings=target, raw=figures)
    not_scored = frame[frame["status"] != "ok"]
    assert set(not_scored["status"]) <= {"na", "missing", "reported", "provided_by_unit"}
    assert not_scored["points"].isna().all() and (not_scored["reason"].str.len() > 0).all()
    office = frame[(frame["unit"] == "van-phong") & (frame["indicator"] == "I766_2_1")].iloc[0]
    assert office["status"] == "na" and "dvc_linh_vuc" in office["reason"]
    provided = frame[frame["indicator"] == "PAR_APOLOGY"]
    assert (
        set(provided["status"]) == {"provided_by_unit"}
        and provided["reason"].str.startswith("Do đơn vị cung cấp").all()
    )
    reported = frame[(frame["indicator"] == "I766_5_4") & (frame["kind"] != "phong")]
    assert set(reported["status"]) == {"reported"} and reported["reported_value"].notna().all()


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("refused", "connection"), ("drift", "news/nukeviet-category"), ("gone-410", "410")],
)
def test_a_dead_or_unparsable_site_is_na_with_the_reason_not_zero_points(
    settings: Settings, make_simulation: SimulationFactory, tmp_path: Path, mode: str, expected: str
) -> None:
    with make_simulation(FaultSpec("phuong-2", mode)) as sim:
        target = pointed(settings, sim, max_retries=0)
        store = open_test_store(tmp_path)
        run_probes(target, store, ["news"], ["phuong-2", "phuong-3"])
        frame = indicators.table(
            "2023-Q3", settings=target, engine=store.engine, units=["phuong-2", "phuong-3"]
        )
    news = frame[frame["indicator"].isin(["PAR_NEWS", "PAR_CCHC_POSTS"])]
    dead = news[news["unit"] == "phuong-2"]
    assert set(dead["status"]) == {"missing"} and dead["points"].isna().all()
    assert all(expected in reason for reason in dead["reason"]), list(dead["reason"])
    assert set(news[news["unit"] == "phuong-3"]["status"]) == {"ok"}
    total = frame[(frame["unit"] == "phuong-2") & (frame["indicator"] == "TOTAL_PAR")].iloc[0]
    assert (total["flag"] and "without evidence" in total["reason"]) or total["status"] != "ok"


def test_changing_a_weight_is_a_config_edit(
    settings: Settings, figures: pd.DataFrame, tmp_path: Path
) -> None:
    text = settings.indicators.file.read_text(encoding="utf-8")
    heavier = tmp_path / "indicators.toml"
    heavier.write_text(text.replace('id = "PAR_NEWS"\ngroup = "PAR"', 'id = "PAR_NEWS"\ngroup = "PAR"', 1)
                       .replace("max_points = 0.5\nconfidence = \"proposed\"\nsource = \"NĐ 42/2022 Đ4; plan II.1.e\"",
                                "max_points = 2.0\nconfidence = \"proposed\"\nsource = \"NĐ 42/2022 Đ4; plan II.1.e\""), encoding="utf-8")  # fmt: skip
    changed = settings.model_copy(
        update={"indicators": settings.indicators.model_copy(update={"file": heavier})}
    )
    before = indicators.table("2023-09", settings=settings, raw=figures, units=["phuong-1"])
    after = indicators.table("2023-09", settings=changed, raw=figures, units=["phuong-1"])
    old_row = before[before["indicator"] == "PAR_NEWS"].iloc[0]
    new_row = after[after["indicator"] == "PAR_NEWS"].iloc[0]
    assert old_row["max_points"] == 0.5 and new_row["max_points"] == 2.0
    assert new_row["points"] == pytest.approx(4 * old_row["points"])


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "max_points = 20\n",
            'max_points = "twenty"\n',
            "indicator[I766_2_1].max_points: expected a number, got 'twenty'",
        ),
        (
            'scoring = "linear"\nmax_points = 20\n',
            'scoring = "quadratic"\nmax_points = 20\n',
            "indicator[I766_2_1].scoring: expected one of",
        ),
        (
            'same_as = "I766_3_6"',
            'same_as = "I766_9_9"',
            "indicator[PAR_PAY_ONLINE].same_as: expected a scored indicator id, got 'I766_9_9'",
        ),
        ('group = "TDGQ"\n', 'group = "NOPE"\n', "indicator[I766_2_1].group: expected one of"),
    ],
)
def test_a_broken_definitions_file_is_one_clear_line(
    settings: Settings, tmp_path: Path, old: str, new: str, message: str
) -> None:
    text = settings.indicators.file.read_text(encoding="utf-8")
    assert old in text
    broken = tmp_path / "indicators.toml"
    broken.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_definitions(broken)
    lines = str(caught.value).splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{broken}: ") and message in lines[0]


def test_rounding_bands_and_shared_ranks() -> None:
    assert half_up(89.995) == 90.0 and half_up(0.125) == 0.13 and half_up(2.675) == 2.68
    bands = load_definitions(REPO / "indicators.toml").bands.i766
    assert [band_of(v, bands) for v in (90.0, 89.99, 70, 50, 49.99)] == [
        "Tốt",
        "Khá",
        "Khá",
        "Trung bình",
        "Yếu",
    ]
    assert shared_ranks({"a": 9.5, "b": 8.0, "c": 8.0, "d": 7.0}) == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_periods() -> None:
    assert parse_period("2023-Q3").months == ("2023-07", "2023-08", "2023-09")
    assert parse_period("2023-H2").months[0] == "2023-07" and len(parse_period("2023").months) == 12
    assert parse_period("2022-11..2023-02").months == ("2022-11", "2022-12", "2023-01", "2023-02")
    assert (
        parse_period("2023-09").dvcqg_key == "2023-09" and parse_period("2023-01..2023-08").dvcqg_key is None
    )
    with pytest.raises(ValueError, match="not a period"):
        parse_period("2023-13")


@pytest.mark.parametrize(
    "text", ["2023-13..2024-01", "2023-00", "2023-00..2023-02", "2023-01..2023-13", "0000-01", "2023-9", "2023-1..2023-2",
             "2024-01..2023-12", "2023-01..2023-02..2023-03", "٢٠٢٣-٠٩", "2023-q3", "2023-Q5", "2023-H0", ""],
)  # fmt: skip
def test_a_month_outside_01_to_12_or_a_malformed_period_is_refused_in_one_line(text: str) -> None:
    """`2023-13..2024-01` once counted months 13, 14, … forever (memory grew by 115 MB/s)."""
    with pytest.raises(ValueError, match=r"^not a period: ") as refused:
        parse_period(text)
    assert "\n" not in str(refused.value)


def test_a_period_spans_at_most_the_configured_months(settings: Settings) -> None:
    assert len(parse_period("2014-01..2023-12").months) == 120
    with pytest.raises(ValueError, match=r"^period too long: '0001-01\.\.9999-12' spans 119988 months"):
        parse_period(
            "0001-01..9999-12"
        )  # refused before a month is listed: it once ran 10 minutes, to 4.4 GB
    with pytest.raises(ValueError, match="more than the 6 allowed"):
        parse_period("2023", max_months=6)
    short = settings.model_copy(
        update={"indicators": settings.indicators.model_copy(update={"max_period_months": 3})}
    )
    with pytest.raises(ValueError, match=r"more than the 3 allowed \(indicators\.max_period_months\)"):
        indicators.table("2023-H1", settings=short, raw=pd.DataFrame())


@given(
    st.text(alphabet="0123456789-.QHytd \n", max_size=24)
    | st.from_regex(r"[0-9]{4}-[0-9]{2}\.\.[0-9]{4}-[0-9]{2}", fullmatch=True)
)
@hypothesis_settings(max_examples=400, deadline=10_000)  # "at once", with a loaded machine's slack
def test_any_period_text_is_a_bounded_period_or_a_one_line_refusal(text: str) -> None:
    """Property: whatever the text, parsing ends at once, with valid months, never more than the limit."""
    try:
        period = parse_period(text, max_months=120)
    except ValueError as exc:
        assert str(exc).startswith(("not a period: ", "period too long: ")) and "\n" not in str(exc)
        return
    assert 1 <= len(period.months) <= 120
    assert all(1 <= int(m[5:]) <= 12 and len(m) == 7 for m in period.months)
    assert list(period.months) == sorted(set(period.months))


def test_a_cell_cites_every_id_of_every_month_it_sums(settings: Settings) -> None:
    """Months with one id each, several, or none: the sources of a quarter are all of them, in order."""
    unit = settings.unit_by_id("phuong-1")
    rows = [  # metric, month, observation ids, snapshot ids
        ("news_posts", "2023-01", [1, 2], [10]),
        ("news_posts", "2023-02", [3], [11]),
        ("news_posts", "2023-03", [], []),
        ("hs_received", "2023-01", [4], [12]),
        ("hs_received", "2023-02", [5], [13]),
        ("hs_received", "2023-03", [6], [14]),
    ]
    figures = pd.DataFrame(
        [(unit.id, metric, month, 1.0, "ok", "", None, obs, snaps, {}) for metric, month, obs, snaps in rows],
        columns=list(indicators.observed.COLUMNS),
    )
    cells = period_cells(figures, parse_period("2023-Q1"), [unit])

    assert cells.value.loc[unit.id, "news_posts"] == 3.0
    assert cells.sources_of((unit.id, "news_posts")) == ([1, 2, 3], [10, 11])
    assert cells.sources_of((unit.id, "hs_received")) == ([4, 5, 6], [12, 13, 14])
    assert cells.sources_of((unit.id, "pakn_late")) is None


def test_trend_and_change_since_the_previous_inspection(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame
) -> None:
    target, _ = crawled
    monthly = indicators.trend("phuong-3", "2023-01..2023-03", settings=target, raw=figures)
    assert list(monthly.columns) == ["2023-01", "2023-02", "2023-03"] and "I766_2_1" in monthly.index
    compared = indicators.table("2023-Q3", settings=target, raw=figures, units=["phuong-3"], compare=True)
    row = compared[compared["indicator"] == "I766_2_1"].iloc[0]
    assert row["previous_period"] == "2022-Q3" and row["change"] == pytest.approx(
        row["points"] - row["previous_points"]
    )


def cchc(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CCHC_CONFIG", "CCHC_DATABASE_URL")} | {
        "COLUMNS": "200"
    }
    return run_cli(["--config", str(config), *args], timeout=300, check=False, env=env)


def test_cli_formats(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame, full_crawl: FullCrawl, tmp_path: Path
) -> None:
    target, _ = crawled
    config = tmp_path / "config.toml"
    write_pointed_config(target, full_crawl.urls, config)
    shown = cchc(config, "indicators", "--period", "2023-Q3")
    assert shown.returncode == 0, shown.stderr
    # Every unit's row shows the bands and ranks of the API's table, and a gap shows as "—", never "nan".
    expected = indicators.table("2023-Q3", settings=target, raw=figures)
    totals = expected[expected["indicator"].str.startswith("TOTAL_")]
    lines = {line.split("│")[1].strip(): line for line in shown.stdout.splitlines() if line.startswith("│")}
    assert "nan" not in shown.stdout
    for (name, family), row in totals.set_index(["unit_name", "family"]).iterrows():
        cells = [c.strip() for c in lines[name.removeprefix("UBND ")].split("│")[1:-1]]
        band, rank = (cells[2], cells[3]) if family == "766" else (cells[6], cells[7])
        ungraded = "chưa đủ dữ liệu" if str(row["reason"]).startswith("not graded") else "—"
        assert band == (row["band"] if isinstance(row["band"], str) else ungraded), (name, family)
        if family == "PAR" and not pd.isna(row["coverage"]):
            assert cells[5] == f"{100 * row['coverage']:.0f}%"
        assert rank == ("—" if pd.isna(row["rank"]) else str(int(row["rank"]))), (name, family)
    as_json = cchc(config, "indicators", "--period", "2023-09", "--unit", "phuong-1", "--format", "json")
    rows = json.loads(as_json.stdout)
    assert {r["unit"] for r in rows} == {"phuong-1"} and all("sources" in r for r in rows)
    for fmt in ("csv", "xlsx", "parquet"):
        target_file = tmp_path / f"table.{fmt}"
        assert (
            cchc(
                config, "indicators", "--period", "2023-Q3", "--format", fmt, "--out", str(target_file)
            ).returncode
            == 0
        )
    assert pd.read_csv(tmp_path / "table.csv")["indicator"].str.startswith("TOTAL_").any()
    sheets = pd.read_excel(tmp_path / "table.xlsx", sheet_name=None)
    assert set(sheets) == {"Chỉ số", "Nguồn"} and len(sheets["Nguồn"]) == len(sheets["Chỉ số"])
    assert len(pd.read_parquet(tmp_path / "table.parquet")) == len(sheets["Chỉ số"])
    bad = cchc(config, "indicators", "--period", "2023-13")
    assert bad.returncode == 1 and bad.stderr.startswith("not a period: '2023-13'")


def _ranks(rows: list[dict[str, Any]] | pd.DataFrame, unit: str) -> dict[str, float | None]:
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    mine = frame[frame["unit"] == unit]
    return {
        str(i): (None if pd.isna(r) else float(r))
        for i, r in zip(mine["indicator"], mine["rank"], strict=True)
    }


def test_a_units_rank_is_the_same_whatever_the_filter_in_the_cli_python_and_web_api(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame, full_crawl: FullCrawl, tmp_path: Path
) -> None:
    """`-u phuong-3` once ranked phuong-3 1st of one, and 2nd of two, while the full table ranked it 4th: a
    filter only hides rows, ranks are over the period's whole tier."""
    from fastapi.testclient import TestClient

    from web.app import create_app

    target, _ = crawled
    full = indicators.table("2023-Q3", settings=target, raw=figures)
    wards = full[(full["indicator"] == "TOTAL_766") & (full["tier"] == "phuong_xa")].sort_values("rank")
    assert wards["rank"].notna().sum() >= 3
    # a unit that is not first, and a companion ranked below it: alone or in two it would come first
    unit, other = str(wards.iloc[2]["unit"]), str(wards.iloc[-1]["unit"])
    truth = _ranks(full, unit)
    assert (truth["TOTAL_766"] or 0) > 1 and (truth["TOTAL_766"] or 0) < float(wards.iloc[-1]["rank"])
    assert any(v is not None for k, v in truth.items() if k.startswith("PAR_"))
    config = tmp_path / "config.toml"
    write_pointed_config(target, full_crawl.urls, config)
    with TestClient(create_app(patient(target)), base_url="http://127.0.0.1") as client:
        for chosen in ([], [unit], [unit, other]):
            python = indicators.table("2023-Q3", settings=target, raw=figures, units=chosen or None)
            assert _ranks(python, unit) == truth, chosen
            args = [a for u in chosen for a in ("--unit", u)]
            shown = cchc(config, "indicators", "--period", "2023-Q3", "--format", "json", *args)
            assert shown.returncode == 0, shown.stderr
            assert _ranks(json.loads(shown.stdout), unit) == truth, chosen
            assert "Kỳ 2023-Q3 (theo yêu cầu)" in shown.stderr
            answer = client.get("/api/indicators", params={"period": "2023-Q3", "unit": chosen})
            assert answer.status_code == 200, answer.text
            assert _ranks(answer.json(), unit) == truth, chosen
            assert {r["unit"] for r in answer.json()} == (set(chosen) or set(full["unit"]))


def test_no_period_scores_the_inspection_and_a_period_outside_the_rule_set_is_refused(
    crawled: tuple[Settings, EvidenceStore], figures: pd.DataFrame, full_crawl: FullCrawl, tmp_path: Path
) -> None:
    """Not the computer's clock: the inspection's period (before the first visit of the calendar), printed; a
    period the rule set does not cover is refused in one line naming both."""
    target, _ = crawled
    first_visit = min(v.date for v in target.visit)
    expected = f"{first_visit.year}-01..{first_visit.year}-{first_visit.month - 1:02d}"
    assert indicators.inspection_period(target, figures) == expected == "2023-01..2023-08"
    assert set(indicators.table(settings=target, raw=figures)["period"]) == {expected}
    no_calendar = target.model_copy(update={"visit": []})
    assert (
        indicators.inspection_period(no_calendar, figures) == "2023-01..2023-09"
    )  # the data end in September
    assert indicators.inspection_period(no_calendar) == "2023"
    config = tmp_path / "config.toml"
    write_pointed_config(target, full_crawl.urls, config)
    shown = cchc(config, "indicators")
    assert shown.returncode == 0, shown.stderr
    assert f"Kỳ {expected} (mặc định: kỳ của đợt kiểm tra" in shown.stdout
    for period in ("2021-Q1", "2022-12..2023-02", "ytd"):
        refused = cchc(config, "indicators", "--period", period)
        assert refused.returncode == 1 and refused.stdout == ""
        lines = refused.stderr.strip().splitlines()
        assert len(lines) == 1 and "nằm ngoài hiệu lực của bộ quy tắc tn-2023-inspection" in lines[0]
        assert f"kỳ {period}" in lines[0] or period == "ytd", lines[0]
        with pytest.raises(ValueError, match="nằm ngoài hiệu lực"):
            indicators.table(period, settings=target, raw=figures)
    report = cchc(config, "report", "phuong-3", "--period", "2021-Q1")
    assert report.returncode == 1 and report.stderr.startswith("bad period: kỳ 2021-Q1"), report.stderr
