"""`cchc indicators`: the indicator table of a period, as a terminal table, CSV, JSON, XLSX or Parquet."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from cchc.errors import CchcError
from cchc.settings import Settings
from cli.console import current_settings, err, out
from cli.options import PERIOD_HELP, UnitsOption

# pandas costs every CLI start ~100 MB and most of a second: only the verbs that make tables load it.
if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("table", "csv", "json", "xlsx", "parquet")
IndicatorFormat = StrEnum("IndicatorFormat", [(f, f) for f in FORMATS])  # type: ignore[misc]
SOURCE_COLUMNS = ["observation_ids", "snapshot_ids"]


def indicators_command(
    period: Annotated[
        str | None,
        typer.Option(
            help=f"{PERIOD_HELP} (default: the inspection's period, before the first visit, else the inspection "
            "year up to the data).",
            show_default=False,
        ),
    ] = None,
    unit: UnitsOption = None,
    output_format: Annotated[
        IndicatorFormat, typer.Option("--format", "-F", help="Output format.")
    ] = IndicatorFormat.table,  # type: ignore[attr-defined]
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to this file (default: stdout; xlsx and parquet need it)."),
    ] = None,
    compare: Annotated[bool, typer.Option(help="Add the same period a year earlier and the change.")] = False,
) -> None:
    """Per unit and period: numerator, denominator, rate, points, band, rank and sources of every indicator."""
    import indicators

    fmt = str(output_format)
    settings = current_settings()
    try:
        frame = indicators.table(period, settings=settings, units=unit, compare=compare)
    except ValueError as exc:
        raise CchcError(str(exc)) from None
    except KeyError as exc:
        raise CchcError(
            f"unknown unit {exc.args[0]!r}; units are {', '.join(u.id for u in settings.unit)}"
        ) from None
    shown = str(frame["period"].iloc[0]) if len(frame) else (period or "")
    said = period_line(shown, chosen=period is not None)
    if fmt == "table":
        out.print(terminal_table(frame, detailed=bool(unit)))
        out.print(said, markup=False)
        city = city_rank_line(settings, shown)
        if city:
            out.print(city, markup=False)
        for line in news_finding_lines(settings, frame):
            out.print(line, markup=False)
        return
    if fmt in ("xlsx", "parquet") and out_file is None:
        raise typer.BadParameter(f"--format {fmt} needs --out FILE", param_hint="--out")
    write(frame, fmt, out_file)
    err.print(said, markup=False)  # stdout may be the CSV or JSON itself; a failure above stays one line
    if out_file is not None:
        out.print(
            f"{len(frame)} rows ({frame['unit'].nunique()} units, period {frame['period'].iloc[0]}) written to {out_file}"
        )


def period_line(period: str, *, chosen: bool) -> str:
    """Which period the figures are of, and why that one: never left for the reader to guess."""
    why = (
        "theo yêu cầu"
        if chosen
        else "mặc định: kỳ của đợt kiểm tra (trước lần kiểm tra đầu tiên, hoặc năm kiểm tra)"
    )
    return f"Kỳ {period} ({why}); hạng tính trên toàn bộ đơn vị cùng cấp của kỳ, kể cả khi chỉ hiện một số đơn vị"


def news_finding_lines(settings: Settings, frame: pd.DataFrame) -> list[str]:
    """Posts removed, re-dated or backdated on the units' portals in the period, each with its snapshots."""
    import indicators
    from evidence.db import open_database
    from indicators.observed import news_findings

    if frame.empty:
        return []
    units = [settings.unit_by_id(u) for u in sorted(set(frame["unit"]))]
    months = list(indicators.parse_period(str(frame["period"].iloc[0])).months)
    engine = open_database(settings.storage.database_url)
    try:
        found = news_findings(engine, settings, units, months)
    finally:
        engine.dispose()
    return [
        f"Tin bài — {f.unit}: {f.text} (bản chụp {', '.join(f'#{s}' for s in f.snapshot_ids[:8])})"
        for f in found
    ]


def city_rank_line(settings: Settings, period: str) -> str:
    """The city's own rank among the province's districts on the 766 report, beside the units' ranks."""
    from evidence.db import open_database
    from indicators.observed import city_ranks

    engine = open_database(settings.storage.database_url)
    try:
        ranks = city_ranks(engine)
    finally:
        engine.dispose()
    mine = ranks[ranks["period"] == period]
    if mine.empty:
        return ""
    row = mine.iloc[0]
    return (f"{settings.city.name}: hạng {row['rank']}/{row['of']} huyện, thị xã, thành phố của tỉnh trên bảng "
            f"Chỉ số 766 kỳ {period} (theo {row['by']}, quan sát #{row['observation_id']})")  # fmt: skip


def write(frame: pd.DataFrame, fmt: str, target: Path | None) -> None:
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        flat = frame.assign(**{c: frame[c].map(lambda ids: " ".join(map(str, ids))) for c in SOURCE_COLUMNS})
        text = flat.to_csv(index=False)
    elif fmt == "json":
        text = json.dumps(records(frame), ensure_ascii=False, indent=1)
    elif fmt == "xlsx":
        assert target is not None
        write_xlsx(frame, target)
        return
    else:
        assert target is not None
        frame.to_parquet(target, index=False)
        return
    if target is None:
        typer.echo(text, nl=False)
    else:
        target.write_text(text, encoding="utf-8")


def write_xlsx(frame: pd.DataFrame, target: Path) -> None:
    """The table for inspectors: Vietnamese headers (the codes stay in their own "Mã" columns), reasons and
    statuses in Vietnamese, headers frozen and filters on; "Nguồn" lists each row's observations and snapshots."""
    import pandas as pd
    from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]

    from reports import vi

    shown = frame.drop(columns=SOURCE_COLUMNS).copy()
    shown["reason"] = shown["reason"].map(lambda r: vi.reason(_note(r)))
    shown["status"] = shown["status"].map(lambda s: vi.status_text(str(s)))
    shown = shown.rename(columns=vi.COLUMN_VI)
    sources = frame[["period", "unit", "indicator", *SOURCE_COLUMNS]].copy()
    for column in SOURCE_COLUMNS:
        sources[column] = sources[column].map(lambda ids: ", ".join(map(str, ids)))
    sources = sources.rename(columns=vi.COLUMN_VI)
    with pd.ExcelWriter(target, engine="openpyxl") as book:
        for name, sheet_frame in (("Chỉ số", shown), ("Nguồn", sources)):
            sheet_frame.to_excel(book, sheet_name=name, index=False)
            sheet = book.sheets[name]
            sheet.freeze_panes = "A2"
            sheet.auto_filter.ref = f"A1:{get_column_letter(sheet_frame.shape[1])}{len(sheet_frame) + 1}"


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: NaN as null, the sources as a nested object."""
    rows = []
    for row in frame.to_dict(orient="records"):
        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in row.items()}
        clean["sources"] = {
            "observations": clean.pop("observation_ids"),
            "snapshots": clean.pop("snapshot_ids"),
        }
        rows.append(clean)
    return rows


def _cell(value: Any, decimals: int = 2) -> str:
    """A figure as shown: "—" for missing (None, NaN, empty), fixed decimals for numbers."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return "—"
    return f"{value:.{decimals}f}" if isinstance(value, float) else str(value)


def _note(value: Any) -> str:
    """A reason as shown: empty where there is none."""
    return "" if _cell(value) == "—" else str(value)


def _checked(row: dict[str, Any]) -> str:
    """Our check of the 766 index: points of the points computable, and their share of the 100; never a score."""
    from reports import vi

    if _cell(row.get("points")) == "—":
        return "—"
    return (
        f"{vi.points(row['points'])} / {vi.number(row['max_points'])} ({100 * row['coverage']:.0f}% của 100)"
    )


def _figure(value: Any) -> str:
    from reports import vi

    return "—" if _cell(value) == "—" else vi.points(float(value))


def _coverage(row: dict[str, Any]) -> str:
    return "—" if _cell(row.get("coverage")) == "—" else f"{100 * row['coverage']:.0f}%"


def grade(row: dict[str, Any]) -> str:
    """A total's grade, or why it has none: below the coverage floor it reads "chưa đủ dữ liệu"."""
    from indicators.scorecard import NOT_GRADED

    if _cell(row.get("band")) != "—":
        return str(row["band"])
    if str(row.get("reason", "")).startswith(NOT_GRADED):
        return "chưa đủ dữ liệu"
    return "—"


def _short_reason(row: dict[str, Any], unit: str) -> str:
    """A total's reason in one line of the overview: what is not covered is counted here, listed with -u."""
    from indicators.scorecard import UNCOVERED_JOIN
    from reports import vi

    text = _note(row.get("reason"))
    head, sep, names = text.partition("; not covered: ")
    if not sep:
        return vi.reason(text)
    count = len(names.split(UNCOVERED_JOIN))
    return f"{vi.reason(head + '; not covered: …').removesuffix('; chưa có minh chứng: …')}; {count} chỉ tiêu chưa có minh chứng (xem -u {unit})"


def terminal_table(frame: pd.DataFrame, detailed: bool) -> Table:
    from reports import vi

    period = frame["period"].iloc[0]
    totals = frame[frame["scoring"] == "total"]
    if not detailed:
        table = Table(
            title=f"Chỉ số {period}: 766 do Cổng DVCQG công bố (/100); CCHC tính từ minh chứng công khai (% của tối "
            "đa áp dụng), xếp loại, xếp hạng khi độ phủ đủ; hạng trong toàn bộ đơn vị cùng cấp; 766 kiểm chứng: điểm "
            "tính lại được / điểm tính được (không xếp loại, xếp hạng)"
        )
        for column in (
            "đơn vị",
            "766 công bố",
            "xếp loại",
            "hạng",
            "CCHC",
            "độ phủ",
            "xếp loại ",
            "hạng ",
            "766 kiểm chứng",
            "ghi chú",
        ):
            table.add_column(column, justify="left" if column in ("đơn vị", "ghi chú") else "right")
        for _unit_id, group in totals.groupby("unit", sort=False):
            rows = {r["indicator"]: r for r in group.to_dict(orient="records")}
            a, b, c = rows.get("TOTAL_766", {}), rows.get("TOTAL_PAR", {}), rows.get("CHECK_766", {})
            notes = [vi.reason(_note(a.get("reason"))), _short_reason(b, str(_unit_id))]
            table.add_row(str(group["unit_name"].iloc[0]).removeprefix("UBND "), _figure(a.get("points")), grade(a),
                          _cell(a.get("rank"), 0), _figure(b.get("points")), _coverage(b), grade(b),
                          _cell(b.get("rank"), 0), _checked(c), "; ".join(filter(None, notes)))  # fmt: skip
        return table
    table = Table(title=f"Chỉ số {period}")
    for column in (
        "đơn vị",
        "chỉ số",
        "tử số",
        "mẫu số",
        "tỷ lệ",
        "điểm",
        "tối đa",
        "độ phủ",
        "xếp loại",
        "hạng",
        "trạng thái",
        "lý do",
    ):
        table.add_column(column)
    for row in frame.to_dict(orient="records"):
        rate = row["rate"]
        table.add_row(str(row["unit"]), f"{row['name_vi']} [{row['indicator']}]", _cell(row["numerator"], 0),
                      _cell(row["denominator"], 0), "—" if rate is None or rate != rate else vi.percent(rate, 1),
                      _figure(row["points"]), vi.number(float(row["max_points"])), _coverage(row), grade(row),
                      _cell(row["rank"], 0), vi.status_text(str(row["status"])), vi.reason(_note(row["reason"])))  # fmt: skip
    return table
