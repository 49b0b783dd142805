"""api/v1 read from the real responses of the national portal (Phú Thọ, 08/2026; shared/real/dvcqg-v1).

Every department's figures are read as the files carry them; the dashboard's formulas of the rule set
(indicators.toml [dashboard]) reproduce the published scores from the published counts, on the rows the README
documents; a changed envelope is a parse failure, never a zero. Nothing here is mocked: the files are real.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from real_v1 import Capture, capture, evaluations, needs_real

from cchc.settings import Settings
from cli_process import run_cli
from conftest import CONFIG
from indicators.definitions import load_definitions
from indicators.published import half_up, recompute_report
from indicators.reconcile import reconcile_report
from probes import get_probe
from probes._base import LayoutNotRecognised
from probes.national_v1 import ENDPOINTS, read_formalities, read_report

pytestmark = needs_real
DEFINITIONS = load_definitions(Path(__file__).resolve().parent.parent / "indicators.toml")
ENDPOINT_NAMES = sorted(ENDPOINTS)


def _rows(c: Capture) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = c.data()
    if "children" in data:
        return data["parent"], data["children"]
    return data["overview"], data["evaluation"]


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
def test_every_department_of_each_answer_is_read_with_its_figures(endpoint: str) -> None:
    c = capture(endpoint)
    report = read_report(c.view())
    parent, rows = _rows(c)
    assert report.period == "2026-08"
    assert report.root == "019d2be3-6a88-732b-8b17-b68020c8553a"
    assert len(report.departments) == len(rows) == 163
    assert report.parent.id == parent["departmentId"] and report.parent.name == "UBND tỉnh Phú Thọ"
    assert report.parent.score == parent["totalScore"]
    score_key = "score" if endpoint == "dvc-progress-tree" else "totalScore"
    for got, raw in zip(report.departments, rows, strict=True):
        assert (got.id, got.name, got.code) == (
            raw["departmentId"],
            raw["departmentName"],
            raw.get("departmentCode"),
        )
        assert got.score == raw[score_key] and got.ratio == raw["ratio"]
        for key in ENDPOINTS[endpoint].counts:
            assert got.counts[key] == raw[key]
        for metric, raw_metric in zip(got.metrics, raw.get("metrics", []), strict=True):
            assert (
                metric.code,
                metric.numerator,
                metric.denominator,
                metric.ratio,
                metric.score,
                metric.max_score,
            ) == tuple(
                raw_metric[k] for k in ("code", "numerator", "denominator", "ratio", "score", "maxScore")
            )
    levels = {d.level for d in report.departments}
    assert levels == {"PROVINCE", "COMMUNE"}
    assert sum(d.level == "COMMUNE" for d in report.departments) == 148


def test_the_province_totals_are_kept() -> None:
    report = read_report(capture("dvc-progress-tree").view())
    assert report.parent.counts["totalReceived"] == 184513 and report.parent.counts["totalOnTime"] == 144625
    assert (report.parent.ratio, report.parent.score, report.parent.max_score) == (78.38, 15.68, 20)
    payment = read_report(capture("formality-online-payment-tree").view())
    assert payment.parent.counts["totalDossierOnlinePaymentSuccess"] == 82913
    online = read_report(capture("provide-online-tree").view())
    assert (
        online.parent.counts["onlineDossierCount"] == 406
        and online.parent.counts["onlineServiceTotal"] == 1968
    )


def test_the_formalities_page_is_read() -> None:
    catalogue = read_formalities(capture("formalities").view())
    assert catalogue.total == 5741 and (catalogue.page, catalogue.page_size) == (1, 10)
    assert len(catalogue.items) == 10
    first = catalogue.items[0]
    assert (first.code, first.state) == ("1.000010", "UPDATED") and first.applied


# --- the formulas ------------------------------------------------------------------------------------------------

assert DEFINITIONS.dashboard is not None
DASHBOARD = DEFINITIONS.dashboard
FORMULAS = DASHBOARD.formula


@pytest.mark.parametrize("formula", FORMULAS, ids=[f"{f.endpoint}:{f.metric or 'score'}" for f in FORMULAS])
def test_each_formula_reproduces_the_published_scores_on_the_rows_the_readme_documents(formula: Any) -> None:
    report = read_report(capture(formula.endpoint).view())
    checks = [c for c in recompute_report(report, DASHBOARD) if c.metric == formula.metric]
    assert len(checks) == 163
    fitted = [c for c in checks if c.checked]
    differing = [(c.code, c.name, c.published, c.computed) for c in fitted if c.status != "equal"]
    assert not differing, f"{formula.endpoint} {formula.metric}: {differing[:5]}"
    assert len(fitted) == formula.fit, formula.exceptions
    # The rows left out (no denominator) are what when_no_denominator says the dashboard gives them.
    others = [(c.code, c.published, c.computed) for c in checks if not c.checked and c.status == "differs"]
    assert not others, f"{formula.endpoint} {formula.metric}: {formula.exceptions}: {others[:5]}"


def test_the_province_row_follows_the_same_formulas() -> None:
    for endpoint in (
        "dvc-progress-tree",
        "formality-online-payment-tree",
        "handling-satisfaction",
        "dossier-digitized",
    ):
        report = read_report(capture(endpoint).view())
        assert DEFINITIONS.dashboard is not None
        province = [
            c
            for c in recompute_report(report, DASHBOARD, parent=True)
            if c.department == report.parent.id and c.checked
        ]
        assert province and all(c.status == "equal" for c in province), province


def test_the_linear_forms_the_readme_rejects_do_not_fit() -> None:
    """The thresholds are the data's: linear reproduces only 1 of 161 satisfaction rows, 137 of 161 reuse rows."""
    report = read_report(capture("handling-satisfaction").view())
    linear = [
        abs(half_up(6 * min(1.0, m.numerator / m.denominator)) - (m.score or 0)) <= 0.01 + 1e-9
        for d in report.departments
        if (m := d.metric("DOSSIER_RECEIVING_SATISFACTION")) and m.denominator and m.numerator is not None
    ]
    assert (sum(linear), len(linear)) == (1, 161)
    report = read_report(capture("dossier-digitized").view())
    linear = [
        abs(half_up(2 * min(1.0, m.numerator / m.denominator)) - (m.score or 0)) <= 0.01 + 1e-9
        for d in report.departments
        if (m := d.metric("REUSED_DIGITIZED_DATA")) and m.denominator and m.numerator is not None
    ]
    assert (sum(linear), len(linear)) == (137, 161)


@pytest.mark.parametrize("endpoint", ["transparency", "handling-satisfaction", "dossier-digitized"])
def test_a_published_ratio_is_the_metric_rate_in_percent(endpoint: str) -> None:
    report = read_report(capture(endpoint).view())
    for d in report.departments:
        for m in d.metrics:
            if m.denominator and m.numerator is not None:
                assert m.ratio == half_up(100 * m.numerator / m.denominator), (d.code, m.code)


# --- the reconciliation (issue 16) on real data --------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
def test_the_reconciliation_finds_every_published_group_score_where_its_counts_put_it(endpoint: str) -> None:
    report = read_report(capture(endpoint).view())
    checks = reconcile_report(report, DEFINITIONS)
    assert len(checks) == 164  # the province and its 163 departments
    statuses = {c.status for c in checks}
    if endpoint == "provide-online-tree":
        # Its children publish no counts: nothing to recompute, every score only checked against 0..12.
        assert statuses == {"unchecked"}
    else:
        assert statuses == {"equal"}, [c.describe() for c in checks if c.status != "equal"][:5]


def test_a_published_score_its_counts_do_not_support_is_a_finding() -> None:
    c = capture("dvc-progress-tree")
    body = json.loads(c.body())
    body["data"]["children"][20]["score"] = round(body["data"]["children"][20]["score"] + 1.5, 2)
    checks = reconcile_report(read_report(c.view(json.dumps(body).encode())), DEFINITIONS)
    findings = [x for x in checks if x.finding]
    assert [x.code for x in findings] == [body["data"]["children"][20]["departmentCode"]]
    assert "published" in findings[0].describe()


# --- a changed envelope is a parse failure, never a zero -----------------------------------------------------------


def _mutations() -> list[tuple[str, str, Any]]:
    def drop_data(b: dict[str, Any]) -> None:
        del b["data"]

    def code_error(b: dict[str, Any]) -> None:
        b["code"] = "ERROR"

    def rename_score(b: dict[str, Any]) -> None:
        for row in b["data"].get("children") or b["data"].get("evaluation"):
            key = "score" if "score" in row and "metrics" not in row else "totalScore"
            row["points"] = row.pop(key)

    def count_as_text(b: dict[str, Any]) -> None:
        b["data"]["children"][3]["totalOnTime"] = "12"

    def rename_children(b: dict[str, Any]) -> None:
        b["data"]["items"] = b["data"].pop("children")

    def rename_numerator(b: dict[str, Any]) -> None:
        metric = b["data"]["evaluation"][5]["metrics"][0]
        metric["num"] = metric.pop("numerator")

    def metrics_not_list(b: dict[str, Any]) -> None:
        b["data"]["evaluation"][0]["metrics"] = {"a": 1}

    return [
        ("dvc-progress-tree", "no data", drop_data),
        ("transparency", "no data", drop_data),
        ("dvc-progress-tree", "code ERROR", code_error),
        ("dvc-progress-tree", "score renamed", rename_score),
        ("dossier-digitized", "totalScore renamed", rename_score),
        ("dvc-progress-tree", "count as text", count_as_text),
        ("provide-online-tree", "children renamed", rename_children),
        ("handling-satisfaction", "numerator renamed", rename_numerator),
        ("transparency", "metrics not a list", metrics_not_list),
    ]


@pytest.mark.parametrize(
    ("endpoint", "change", "mutate"), _mutations(), ids=[f"{e}:{c}" for e, c, _ in _mutations()]
)
def test_a_changed_envelope_is_a_parse_failure(
    endpoint: str, change: str, mutate: Any, settings: Settings
) -> None:
    c = capture(endpoint)
    body = json.loads(c.body())
    mutate(body)
    view = c.view(json.dumps(body).encode())
    with pytest.raises(LayoutNotRecognised):
        read_report(view)
    with pytest.raises(LayoutNotRecognised):
        get_probe("service_stats").parse(view, settings)


def test_an_answer_that_is_not_json_is_a_parse_failure(settings: Settings) -> None:
    c = capture("transparency")
    with pytest.raises(LayoutNotRecognised, match="not JSON"):
        get_probe("service_stats").parse(c.view(b"<html>maintenance</html>"), settings)


def test_every_evaluation_capture_is_covered() -> None:
    assert sorted(c.endpoint for c in evaluations()) == ENDPOINT_NAMES


@pytest.mark.parametrize("endpoint", ENDPOINT_NAMES)
def test_cchc_parse_prints_every_departments_figures(endpoint: str) -> None:
    c = capture(endpoint)
    result = run_cli(
        ["--config", str(CONFIG), "parse", "service_stats", str(c.file),
         "--url", c.url, "--payload", json.dumps(c.payload)],
        timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    rows = [r for r in records if r["metric"] == "report_row"]
    _, raw = _rows(c)
    assert [r["attributes"]["code"] or r["attributes"]["national_id"] for r in rows] == [
        x.get("departmentCode") or x["departmentId"] for x in raw
    ]
    score_key = "score" if endpoint == "dvc-progress-tree" else "totalScore"
    assert [r["attributes"]["values"]["score"] for r in rows] == [x[score_key] for x in raw]
    assert sum(r["metric"] == "report_parent" for r in records) == 1


def test_cchc_parse_says_why_a_changed_envelope_is_not_read(tmp_path: Path) -> None:
    c = capture("transparency")
    body = json.loads(c.body())
    body["result"] = body.pop("data")
    changed = tmp_path / "transparency.json"
    changed.write_text(json.dumps(body), encoding="utf-8")
    result = run_cli(
        ["--config", str(CONFIG), "parse", "service_stats", str(changed),
         "--url", c.url, "--payload", json.dumps(c.payload)],
        timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 3 and result.stdout == ""
    assert "data is null / absent" in result.stderr and "Traceback" not in result.stderr
