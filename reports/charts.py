"""Small charts where a trend says more than a number, as PNG data URIs (matplotlib, no pyplot state).

A month without complete evidence is drawn as a gap marked N/A, never as a zero bar.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from reports.model import NOT_AVAILABLE, Chart
from reports.vi import month_label, number

FONT = ["Noto Sans", "DejaVu Sans", "Liberation Sans"]  # each renders Vietnamese diacritics
BLUE, ORANGE, GREY, RED, GREEN = "#1f5fa8", "#e08a1e", "#8a8f98", "#c0392b", "#2e8b57"
SERIES_COLOURS = (BLUE, ORANGE, GREY)
BAND_COLOURS = {"Tốt": GREEN, "Khá": BLUE, "Trung bình": ORANGE, "Yếu": RED, "Kém": RED}


def _style() -> Any:
    return {"font.family": FONT, "font.size": 8, "axes.spines.top": False, "axes.spines.right": False,
            "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#dddddd", "grid.linewidth": 0.6,
            "axes.axisbelow": True}  # fmt: skip


def _vietnamese_numbers(axis: Any) -> None:
    """Axis numbers as a Vietnamese document writes them: 0,5 and 1.000, never 0.5 and 1,000."""
    axis.set_major_formatter(FuncFormatter(lambda value, _: number(value)))


def _months_and_series(
    series: Sequence[tuple[str, Sequence[MonthValue]]], scale: float = 1.0
) -> dict[str, Any]:
    months = tuple(v.month for v in series[0][1]) if series else ()
    values = tuple(
        (label, tuple(None if v.value is None else scale * v.value for v in vs)) for label, vs in series
    )
    return {"months": months, "series": values}


def _png(figure: Figure) -> str:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=130, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


@dataclass(frozen=True)
class MonthValue:
    month: str  # YYYY-MM
    value: float | None  # None: no complete evidence (drawn as N/A)


def monthly_bars(
    title: str,
    series: Sequence[tuple[str, Sequence[MonthValue]]],
    *,
    target: float | None = None,
    target_label: str = "",
    description: str = "",
) -> Chart:
    """Grouped bars per month (e.g. all posts and reform posts), a dashed target line, N/A for gaps."""
    with matplotlib.rc_context(_style()):
        figure = Figure(figsize=(6.4, 2.2))
        axes = figure.add_subplot()
        width = 0.8 / max(1, len(series))
        top = max([v.value or 0.0 for _, values in series for v in values] + [target or 0.0, 1.0])
        for n, (label, values) in enumerate(series):
            xs = [i + (n - (len(series) - 1) / 2) * width for i in range(len(values))]
            heights = [v.value if v.value is not None else 0.0 for v in values]
            shown = [v.value is not None for v in values]
            axes.bar(
                [x for x, s in zip(xs, shown, strict=True) if s],
                [h for h, s in zip(heights, shown, strict=True) if s],
                width=width,
                label=label,
                color=SERIES_COLOURS[n % len(SERIES_COLOURS)],
            )
            for x, value in zip(xs, values, strict=True):
                if value.value is not None:
                    axes.text(
                        x, value.value + top * 0.02, number(value.value), ha="center", va="bottom", fontsize=6
                    )
        _months_with_gaps(axes, series, gap_y=top * 0.05, va="bottom")
        _target_line(axes, target, target_label)
        axes.set_ylim(0, top * 1.2)
        axes.set_ylabel("tin, bài")
        _vietnamese_numbers(axes.yaxis)
        axes.set_title(title, fontsize=9)
        axes.legend(fontsize=7, frameon=False, loc="upper left", ncols=3)
        return Chart(title, _png(figure), description, unit="tin, bài", target=target, kind="bar",
                     **_months_and_series(series))  # fmt: skip


def monthly_rates(
    title: str,
    series: Sequence[tuple[str, Sequence[MonthValue]]],
    *,
    target: float | None = None,
    target_label: str = "",
    description: str = "",
) -> Chart:
    """Rates (fractions) per month as lines in %, a dashed target line, N/A where a month has no evidence."""
    with matplotlib.rc_context(_style()):
        figure = Figure(figsize=(6.4, 2.2))
        axes = figure.add_subplot()
        for n, (label, values) in enumerate(series):
            ys = [100 * v.value if v.value is not None else float("nan") for v in values]
            axes.plot(
                range(len(values)),
                ys,
                marker="o",
                markersize=3,
                linewidth=1.2,
                label=label,
                color=SERIES_COLOURS[n % len(SERIES_COLOURS)],
            )
        _months_with_gaps(axes, series, gap_y=5)
        _target_line(axes, None if target is None else 100 * target, target_label)
        axes.set_ylim(0, 105)
        axes.set_ylabel("%")
        _vietnamese_numbers(axes.yaxis)
        axes.set_title(title, fontsize=9)
        axes.legend(fontsize=7, frameon=False, loc="lower left", ncols=3)
        return Chart(title, _png(figure), description, unit="%", target=None if target is None else 100 * target,
                     **_months_and_series(series, 100.0))  # fmt: skip


def _months_with_gaps(axes: Any, series: Sequence[tuple[str, Sequence[MonthValue]]], gap_y: float,
                      **text: Any) -> None:  # fmt: skip
    """The months along the x axis, with N/A written over each month for which no series has evidence."""
    months = [m.month for m in series[0][1]]
    for i in range(len(months)):
        if all(values[i].value is None for _, values in series):
            axes.text(i, gap_y, NOT_AVAILABLE, ha="center", color=RED, fontsize=7, **text)
    axes.set_xticks(range(len(months)), [month_label(m) for m in months])


def _target_line(axes: Any, y: float | None, label: str) -> None:
    if y is not None:
        axes.axhline(y, color=RED, linestyle="--", linewidth=0.8, label=label or None)


def ranking_bars(
    title: str, rows: Sequence[tuple[str, float | None, str | None]], bands: Sequence[tuple[str, float]]
) -> Chart:
    """Units' indexes (0–100) as horizontal bars coloured by band, band bounds as dotted lines; N/A shown."""
    with matplotlib.rc_context(_style()):
        figure = Figure(figsize=(6.4, 0.3 * max(3, len(rows)) + 0.8))
        axes = figure.add_subplot()
        names = [name for name, _, _ in rows]
        for i, (_, value, band) in enumerate(rows):
            if value is None:
                axes.text(1, i, NOT_AVAILABLE, va="center", color=RED, fontsize=7)
                continue
            axes.barh(i, value, color=BAND_COLOURS.get(band or "", GREY), height=0.6)
            axes.text(value + 0.8, i, number(value), va="center", fontsize=6)
        for name, bound in bands:
            if bound > 0:
                axes.axvline(bound, color=GREY, linestyle=":", linewidth=0.8)
                axes.text(bound, len(rows) - 0.4, name, fontsize=6, color=GREY, ha="center")
        axes.set_yticks(range(len(rows)), names)
        axes.invert_yaxis()
        axes.set_xlim(0, 108)
        axes.set_xlabel("điểm / 100")
        axes.grid(axis="x", color="#dddddd", linewidth=0.6)
        axes.grid(axis="y", visible=False)
        _vietnamese_numbers(axes.xaxis)
        axes.set_title(title, fontsize=9)
        return Chart(title, _png(figure), "")
