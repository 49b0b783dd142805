"""The 766 index as the national dashboard computes it: 2.1, 3.1 and 5.2 against hand calculations from the
formula description; the two figures (the published index, ranked and banded; the points we can check, never);
coverage that counts everything we do not score; and a monthly summary without open-dossier counts.

The formula description is "Mô tả công thức tính chỉ số 766.docx" (sha256 41A27E55…337087AF), whose text is
kept in github ChippedTopaz/qd766, web/src/formula-document.ts @ 0a54bd2725cc4e6967a45af61676e636290fac1c
("desc." below). The worked examples are those of the lead's research note 766.md §3.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from probe_helpers import open_test_store, pointed, run_probes

import indicators
from cchc.settings import Settings
from cli.simlink import truth_figures, world_spec
from conftest import REPO
from indicators.definitions import Definitions, load_definitions
from indicators.observed import COLUMNS, online_distinct, raw_figures
from indicators.reconcile import reconcile
from indicators.scorecard import compute, parse_period
from sim import Simulation

MONTH = "2023-09"


@pytest.fixture(scope="module")
def definitions() -> Definitions:
    return load_definitions(REPO / "indicators.toml")


def one_month(settings: Settings, unit_id: str, **values: float) -> pd.DataFrame:
    """Raw figures of one unit for one month (catalogue figures: tthc_*), as indicators/observed.py gives them."""
    rows: list[dict[str, Any]] = [
        {"unit": unit_id, "metric": metric, "period": "instant" if metric.startswith("tthc_") else MONTH,
         "value": float(value), "status": "ok", "reason": "", "observed_at": None, "observation_ids": [1],
         "snapshot_ids": [1], "detail": {}}
        for metric, value in values.items()
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def row_of(frame: pd.DataFrame, indicator: str, unit: str = "phuong-1") -> pd.Series:
    return frame[(frame["unit"] == unit) & (frame["indicator"] == indicator)].iloc[0]


def scored(settings: Settings, definitions: Definitions, **values: float) -> pd.DataFrame:
    ward = settings.unit_by_id("phuong-1")
    return compute(one_month(settings, ward.id, **values), [ward], definitions, parse_period(MONTH))


# --- 2.1 ---------------------------------------------------------------------------------------------------------


def test_2_1_counts_dossiers_still_in_progress_as_the_description_says(
    settings: Settings, definitions: Definitions
) -> None:
    """desc. 2.1 business[0]: "Tỷ lệ hồ sơ xử lý đúng hạn= Số lượng hồ sơ đã và đang xử lý đúng hạn hoặc trong
    hạn trong kỳ/ Tổng số hồ sơ được tiếp nhận, xử lý trong kỳ"; business[7]: an open dossier ends at the
    period's end. Worked example A (766.md §3a): 70 completed on time, 10 late, 15 open within their deadline,
    5 open past it: (70 + 15) / 100 = 0.85 → 20 × 0.85 = 17.00 (linear, as the dashboard: dvcqg-v1 161/161).
    The old rule, on time ÷ completed, gave 70/80 → 17.50."""
    frame = scored(settings, definitions, hs_processed_on_time=70, hs_processed_late=10, hs_pending_in_time=15,
                   hs_pending_overdue=5)  # fmt: skip
    row = row_of(frame, "I766_2_1")
    assert row["status"] == "ok" and (row["numerator"], row["denominator"]) == (85, 100)
    assert row["rate"] == pytest.approx(0.85) and round(row["points"], 2) == 17.00


def test_2_1_per_dossier_example_with_supplement_requests(
    settings: Settings, definitions: Definitions
) -> None:
    """Worked example B (766.md §3a), period ending 30/09: D1 completed on time after one supplement request
    (business[9..10]); D2 open with one pending request (business[3]: the clock stops) and D4 open before its
    deadline: in time; D3 open with two requests ("hơn 01 lần thì tính quá hạn") and D5 open past its
    deadline: late. 3/5 = 0.60 → 12.00; counting completed dossiers only gave 1/1 → 20.00."""
    frame = scored(settings, definitions, hs_processed_on_time=1, hs_processed_late=0, hs_pending_in_time=2,
                   hs_pending_overdue=2)  # fmt: skip
    assert round(row_of(frame, "I766_2_1")["points"], 2) == 12.00


def test_2_1_with_no_dossier_scores_0_as_the_dashboard_and_says_why(
    settings: Settings, definitions: Definitions
) -> None:
    """desc. 2.1 notes[0] allows "0 hoặc N/A"; the dashboard publishes ratio 0 and score 0 (dvcqg-v1 H44.01)."""
    frame = scored(settings, definitions, hs_processed_on_time=0, hs_processed_late=0, hs_pending_in_time=0,
                   hs_pending_overdue=0)  # fmt: skip
    row = row_of(frame, "I766_2_1")
    assert row["status"] == "ok" and row["points"] == 0 and "when_no_denominator = zero" in row["reason"]


# --- 3.1 ---------------------------------------------------------------------------------------------------------


def test_3_1_for_a_ward_divides_by_every_xa_level_procedure(
    settings: Settings, definitions: Definitions
) -> None:
    """desc. 3.1 business[6]: "Xã, phường: … tỷ lệ % TTHC có đơn vị áp dụng DVCTT là xã đó/ Tổng số TTHC có cấp
    thực hiện = cấp xã"; business[1]: a procedure offered both ways "tính cho mức DVCTT cao nhất"; notes[3..5]:
    full points from 80 %, else "Tỷ lệ … *Điểm tối đa/80%". Worked example (766.md §3b): phường X offers 180
    procedures toàn trình and 130 một phần, 10 of them both (300 distinct), lists 350, and the xã level has
    400: 300/400 = 0.75 → 4 × 0.75/0.80 = 3.75. The old rule, (180 + 130)/350 = 0.886, gave 4.00."""
    rows = [(f"1.{n:06d}", "toan_trinh") for n in range(180)]
    rows += [(f"1.{n:06d}", "mot_phan") for n in range(170, 300)]  # 170–179: offered both ways
    rows += [(f"2.{n:06d}", "cung_cap_thong_tin") for n in range(50)]
    assert online_distinct(rows) == 300 and len({code for code, _ in rows}) == 350
    frame = scored(settings, definitions, tthc_dvctt=300, tthc_reference=400, tthc_listed=350,
                   tthc_toan_trinh=180, tthc_mot_phan=130)  # fmt: skip
    row = row_of(frame, "I766_3_1")
    assert (row["numerator"], row["denominator"]) == (300, 400) and round(row["points"], 2) == 3.75


def test_3_1_publishing_fewer_procedures_no_longer_raises_the_rate(
    settings: Settings, definitions: Definitions
) -> None:
    """766.md §3b, phường Y: it lists only 300 procedures, all offered online. The old rule gave 300/300 →
    4.00; the description's denominator (every xã-level procedure) gives 300/400 → 3.75, as phường X."""
    frame = scored(settings, definitions, tthc_dvctt=300, tthc_reference=400, tthc_listed=300)
    assert round(row_of(frame, "I766_3_1")["points"], 2) == 3.75


# --- 5.2 ---------------------------------------------------------------------------------------------------------


NO_FEEDBACK = {"pakn_on_time": 0, "pakn_late": 0, "pakn_pending_in_time": 0, "pakn_pending_overdue": 0}


def with_rule(tmp_path: Path, rule: str) -> Definitions:
    """The rule set with 5.2's no-feedback setting changed, as an inspector would edit indicators.toml."""
    text = (REPO / "indicators.toml").read_text(encoding="utf-8")
    # 5.2's own key, at the start of its line (the dashboard's formulas have theirs inside their parts)
    assert text.count('\nwhen_no_denominator = "full"') == 1
    edited = tmp_path / rule / "indicators.toml"
    edited.parent.mkdir()
    edited.write_text(
        text.replace('\nwhen_no_denominator = "full"', f'\nwhen_no_denominator = "{rule}"'), "utf-8"
    )
    return load_definitions(edited)


def test_5_2_with_no_feedback_follows_the_setting_and_records_the_rule(
    settings: Settings, definitions: Definitions, tmp_path: Path
) -> None:
    """desc. 5.2 notes[0]: "- Nếu mẫu số = 0: hiển thị 0 hoặc N/A theo quy định báo cáo"; the dashboard gives
    full points (dvcqg-v1 PETITION_PROCESSING_ON_TIME: 6 on the 145 rows without feedback). Worked example
    (766.md §3c, UBND Phường Nông Trang 08/2026, PAKN 0/0): dashboard rule 6.00, "na" N/A and left out of the
    points computable, "zero" 0.00."""
    dashboard = row_of(scored(settings, definitions, **NO_FEEDBACK), "I766_5_2")
    assert dashboard["status"] == "ok" and round(dashboard["points"], 2) == 6.00
    assert "full points" in dashboard["reason"] and "when_no_denominator = full" in dashboard["reason"]

    frame = scored(settings, with_rule(tmp_path, "na"), **NO_FEEDBACK)
    na = row_of(frame, "I766_5_2")
    assert na["status"] == "na" and pd.isna(na["points"])
    check = row_of(frame, "CHECK_766")
    assert check["denominator"] == 0 or pd.isna(check["denominator"]), (
        "5.2 is not among the points computable"
    )

    zero = row_of(scored(settings, with_rule(tmp_path, "zero"), **NO_FEEDBACK), "I766_5_2")
    assert zero["status"] == "ok" and zero["points"] == 0 and "when_no_denominator = zero" in zero["reason"]


def test_5_2_with_feedback_counts_what_is_still_being_handled(
    settings: Settings, definitions: Definitions
) -> None:
    """desc. 5.2 business[19]: the denominator is every PAKN "đã và đang xử lý trong kỳ"; business[6]: one
    still open within 15 working days is in time. Worked example (766.md §3c): 2 handled on time, 1 late, 1 open
    in time: (2 + 1)/4 = 0.75 → 6 × 0.75 = 4.50 (linear, as dvcqg-v1); the old rule gave 2/3 → 4.00."""
    frame = scored(settings, definitions, pakn_on_time=2, pakn_late=1, pakn_pending_in_time=1,
                   pakn_pending_overdue=0)  # fmt: skip
    assert round(row_of(frame, "I766_5_2")["points"], 2) == 4.50


# --- the two figures and coverage -------------------------------------------------------------------------------


def test_the_rule_set_tags_every_indicator_and_fills_the_dashboards_groups(definitions: Definitions) -> None:
    tags = [(i.confidence, i.source) for i in definitions.indicator]
    tags += [(r.confidence, r.source) for r in definitions.reported_only]
    assert all(tag in ("official", "partial", "proposed") and source.strip() for tag, source in tags)
    groups = [g for g in definitions.group if g.family == "766"]
    assert {g.id: g.max_points for g in groups} == {
        "CKMB": 18,
        "TDGQ": 20,
        "DVTT": 22,
        "MDSH": 22,
        "MDHL": 18,
    }
    assert all(definitions.member_max(g.id) == g.max_points for g in groups)
    province = {r.id for r in definitions.reported_only if r.level == "province"}
    assert province == {"I766_1_1", "I766_1_2", "I766_1_3"}
    own_check = next(i for i in definitions.indicator if i.id == "PAR_TTHC_COMPLETE")
    assert definitions.family_of(own_check.group) == "PAR" and own_check.numerator == ["tthc_complete_7"]


@pytest.mark.parametrize("period", ["2023-07", "2023-Q3", "2023-01..2023-08"])
def test_only_the_published_index_is_banded_and_ranked(
    settings: Settings, definitions: Definitions, truth: dict[str, Any], period: str
) -> None:
    units = settings.units_in_inspection()
    frame = compute(truth_figures(truth), units, definitions, parse_period(period))
    published = frame[frame["indicator"] == "TOTAL_766"].set_index("unit")
    key = parse_period(period).dvcqg_key or parse_period(period).months[-1]
    wards = [u.id for u in units if u.kind != "phong"]
    for unit in wards:
        row = published.loc[unit]
        assert row["points"] == truth["units"][unit]["i766"][key]["i766_score_tong"]
        assert row["published_rank"] == truth["units"][unit]["i766_rank"][key]
        assert row["band"] and row["status"] == "ok"
    by_value = published.loc[wards, "points"].rank(method="min", ascending=False)
    assert list(published.loc[wards, "rank"]) == list(by_value)
    phong = published[published["kind"] == "phong"]
    assert set(phong["status"]) == {"na"} and phong["band"].isna().all() and phong["rank"].isna().all()

    check = frame[frame["indicator"] == "CHECK_766"]
    assert check["band"].isna().all() and check["rank"].isna().all()
    computed = check[check["status"] == "ok"]
    assert (computed["max_points"] < 100).all() and (
        computed["points"] <= computed["max_points"] + 1e-9
    ).all()
    ours = frame[(frame["family"] == "766") & ~frame["indicator"].isin(["TOTAL_766", "CHECK_766"])]
    assert ours["rank"].isna().all(), "a computed 766 indicator is never ranked"


def test_coverage_counts_everything_we_do_not_score(
    settings: Settings, definitions: Definitions, truth: dict[str, Any]
) -> None:
    """Reported, provided by the unit, province-level: all count against the 100. A ward scores 1.4 (6), 2.1
    (20), 3.1 (4), 3.3 (4) and 5.2 (6): 40 of 100, below the ranking floor of 50 %."""
    frame = compute(
        truth_figures(truth), settings.units_in_inspection(), definitions, parse_period("2023-07")
    )
    check = row_of(frame, "CHECK_766")
    assert check["denominator"] == 40 and check["coverage"] == pytest.approx(0.40)
    assert check["coverage"] < definitions.rule_set.min_coverage
    scored_points = frame[(frame["unit"] == "phuong-1") & (frame["family"] == "766") & (frame["status"] == "ok")
                          & frame["indicator"].str.startswith("I766_")]["points"].sum()  # fmt: skip
    assert check["points"] == pytest.approx(scored_points)
    assert "40% of the 100 points" in check["reason"]


# --- a summary without the open-dossier counts ----------------------------------------------------------------


def test_without_open_dossier_counts_2_1_and_5_2_are_na_with_the_reason(
    settings: Settings, definitions: Definitions, tmp_path: Path
) -> None:
    """No public source shows counts of dossiers still open (portals.md §3.3): a summary without them leaves
    2.1 and 5.2 N/A and says why, never computed the old way; the reconciliation then does not check TDGQ."""
    spec = dataclasses.replace(world_spec(settings), national_pending_counts=False)
    with Simulation(spec) as sim:
        target = pointed(settings, sim)
        store = open_test_store(tmp_path)
        report = run_probes(target, store, ["service_stats"], ["phuong-1"])
        assert report.counts.parse_failures == 0
        figures = raw_figures(store.engine, target)
    pending = figures[(figures["unit"] == "phuong-1") & (figures["metric"] == "hs_pending_in_time")]
    assert len(pending) and set(pending["status"]) == {"na"}
    assert pending["reason"].str.contains("DGXLTH_TOTAL").all()
    frame = indicators.table(MONTH, settings=target, raw=figures, units=["phuong-1"])
    for indicator in ("I766_2_1", "I766_5_2"):
        row = row_of(frame, indicator)
        assert row["status"] == "na" and pd.isna(row["points"]) and "not published" in row["reason"]
    checks = reconcile(figures, [target.unit_by_id("phuong-1")], definitions, [MONTH])
    tdgq = next(c for c in checks if c.group == "TDGQ")
    assert tdgq.status == "unchecked" and tdgq.published is not None


# --- what the dashboard's own scores need of a rule set ------------------------------------------------------


PAYMENT_RULES = """
group = [{ id = "TTTT", name_vi = "Thanh toán trực tuyến", family = "766", max_points = 10 },
         { id = "PAR", name_vi = "PAR", family = "PAR" }]
[rule_set]
id = "payment-shape"
valid_from = 2026-01-01
[bands]
i766 = [{ name = "Tốt", min = 90, confidence = "official" }, { name = "Yếu", min = 0, confidence = "official" }]
par_tayninh = [{ name = "Tốt", min = 80, confidence = "proposed" }, { name = "Kém", min = 0, confidence = "proposed" }]
[[indicator]]
id = "PAY_PAID"
group = "TTTT"
name_vi = "Hồ sơ thanh toán trực tuyến"
numerator = ["hs_paid_online_dvcqg"]
denominator = ["hs_received"]
when_no_denominator = "zero"
scoring = "linear"
max_points = 6
confidence = "partial"
source = "dvcqg-v1 formality-online-payment-tree, first part"
[[indicator]]
id = "PAY_FORMALITY"
group = "TTTT"
name_vi = "TTHC có hồ sơ thanh toán thành công"
numerator = ["hs_received_online"]
denominator = ["tthc_listed"]
when_no_denominator = "zero"
scoring = "threshold"
threshold = 0.8
max_points = 2
confidence = "partial"
source = "dvcqg-v1 formality-online-payment-tree, second part"
[[indicator]]
id = "PAY_FEE_DATA"
group = "TTTT"
name_vi = "TTHC có dữ liệu phí"
numerator = ["hs_synced"]
denominator = ["tthc_reference"]
when_no_denominator = "zero"
scoring = "threshold"
threshold = 0.8
max_points = 2
confidence = "partial"
source = "dvcqg-v1 formality-online-payment-tree, third part"
"""


def test_the_rule_set_expresses_the_dashboards_three_part_payment_score(
    settings: Settings, tmp_path: Path
) -> None:
    """shared/real/dvcqg-v1 README: the payment tree is 6 × linear + 2 × capped at 80 % + 2 × capped at 80 %, a
    zero denominator counting 0; the province's row, 82913/98459, 93/310 and 56/310, publishes 6.25. Stand-in
    observation names carry the three parts' counts (issue 19 reads the real ones)."""
    path = tmp_path / "indicators.toml"
    path.write_text(PAYMENT_RULES, encoding="utf-8")
    rules = load_definitions(path)
    frame = scored(settings, rules, hs_paid_online_dvcqg=82913, hs_received=98459, hs_received_online=93,
                   tthc_listed=310, hs_synced=56, tthc_reference=310)  # fmt: skip
    parts = frame[frame["group"] == "TTTT"].set_index("indicator")["points"]
    assert round(sum(round(p, 2) for p in parts), 2) == 6.25
    empty = scored(settings, rules, hs_paid_online_dvcqg=0, hs_received=0, hs_received_online=0, tthc_listed=0,
                   hs_synced=0, tthc_reference=0)  # fmt: skip
    nothing = empty[empty["group"] == "TTTT"]
    assert set(nothing["status"]) == {"ok"} and (nothing["points"] == 0).all()
