"""`cchc indicators`: the indicator table of a period, as a terminal table, CSV, JSON, XLSX or Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from cchc.errors import CchcError
from cchc.settings import Settings
from cli.console import current_settings, out

FORMATS = ("table", "csv", "json", "xlsx", "parquet")
SOURCE_COLUMNS = ["observation_ids", "snapshot_ids"]


def indicators_command(
    period: Annotated[
        str, typer.Option(help="2023-09, 2023-Q3, 2023-H1, 2023, 2023-01..2023-08 or ytd.")
    ] = "ytd",
    unit: Annotated[
        list[str] | None, typer.Option("--unit", "-u", help="Only this unit. Repeatable.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")] = "table",
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to this file (default: stdout; xlsx and parquet need it)."),
    ] = None,
    compare: Annotated[bool, typer.Option(help="Add the same period a year earlier and the change.")] = False,
) -> None:
    """Per unit and period: numerator, denominator, rate, points, band, rank and sources of every indicator."""
    import indicators

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    settings = current_settings()
    try:
        frame = indicators.table(period, settings=settings, units=unit, compare=compare)
    except ValueError as exc:
        raise CchcError(str(exc)) from None
    except KeyError as exc:
        raise CchcError(
            f"unknown unit {exc.args[0]!r}; units are {', '.join(u.id for u in settings.unit)}"
        ) from None
    if fmt == "table":
        out.print(terminal_table(frame, detailed=bool(unit)), width=None if out.is_terminal else 200)
        city = city_rank_line(settings, str(frame["period"].iloc[0]) if len(frame) else period)
        if city:
            out.print(city, markup=False)
        for line in news_finding_lines(settings, frame):
            out.print(line, markup=False)
        return
    if fmt in ("xlsx", "parquet") and out_file is None:
        raise typer.BadParameter(f"--format {fmt} needs --out FILE", param_hint="--out")
    write(frame, fmt, out_file)
    if out_file is not None:
        out.print(
            f"{len(frame)} rows ({frame['unit'].nunique()} units, period {frame['period'].iloc[0]}) written to {out_file}"
        )


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
        with pd.ExcelWriter(target, engine="openpyxl") as book:
            frame.drop(columns=SOURCE_COLUMNS).to_excel(book, sheet_name="Chỉ số", index=False)
            sources = frame[["period", "unit", "indicator", *SOURCE_COLUMNS]].copy()
            for column in SOURCE_COLUMNS:
                sources[column] = sources[column].map(lambda ids: ", ".join(map(str, ids)))
            sources.to_excel(book, sheet_name="Nguồn", index=False)
        return
    else:
        assert target is not None
        frame.to_parquet(target, index=False)
        return
    if target is None:
        typer.echo(text, nl=False)
    else:
        target.write_text(text, encoding="utf-8")


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
    if _cell(row.get("points")) == "—":
        return "—"
    return f"{row['points']:.2f} / {row['max_points']:g} ({100 * row['coverage']:.0f}% của 100)"


def terminal_table(frame: pd.DataFrame, detailed: bool) -> Table:
    period = frame["period"].iloc[0]
    totals = frame[frame["scoring"] == "total"]
    if not detailed:
        table = Table(
            title=f"Chỉ số {period}: 766 do Cổng DVCQG công bố (/100), CCHC (% của tối đa áp dụng); xếp loại, "
            "hạng trong cùng cấp; 766 kiểm chứng: điểm tính lại được / điểm tính được (không xếp loại, xếp hạng)"
        )
        for column in (
            "đơn vị",
            "766",
            "xếp loại",
            "hạng",
            "CCHC",
            "xếp loại ",
            "hạng ",
            "766 kiểm chứng",
            "ghi chú",
        ):
            table.add_column(column, justify="left" if column in ("đơn vị", "ghi chú") else "right")
        for _unit_id, group in totals.groupby("unit", sort=False):
            rows = {r["indicator"]: r for r in group.to_dict(orient="records")}
            a, b, c = rows.get("TOTAL_766", {}), rows.get("TOTAL_PAR", {}), rows.get("CHECK_766", {})
            note = "; ".join(filter(None, (_note(a.get("reason")), _note(b.get("reason")))))
            table.add_row(str(group["unit_name"].iloc[0]).removeprefix("UBND "), _cell(a.get("points")), _cell(a.get("band")),
                          _cell(a.get("rank"), 0), _cell(b.get("points")), _cell(b.get("band")), _cell(b.get("rank"), 0),
                          _checked(c), note)  # fmt: skip
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
        "trạng thái",
        "hạng",
        "lý do",
    ):
        table.add_column(column)
    for row in frame.to_dict(orient="records"):
        rate = row["rate"]
        table.add_row(str(row["unit"]), str(row["indicator"]), _cell(row["numerator"], 0), _cell(row["denominator"], 0),
                      "—" if rate is None or rate != rate else f"{100 * rate:.1f}%", _cell(row["points"]),
                      _cell(row["max_points"]), str(row["status"]), _cell(row["rank"], 0), _note(row["reason"]))  # fmt: skip
    return table
