"""Small inline SVG charts for the pages: no JavaScript, no build step, text in the page's own font. Every chart
starts at zero, has gridlines with Vietnamese numbers (0,5 not 0.5), the unit on its axis, its target lines
labelled, and a legend in words."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from reports import vi

WIDTH, HEIGHT = 560, 230
LEFT, RIGHT, TOP, BOTTOM = 52, 30, 30, 62  # room for the axis' numbers and unit, and the legend below
COLOURS = ("#0a5fa8", "#c0392b", "#27824a", "#8e44ad")
TARGET_COLOUR = "#b36b00"


def nice_step(top: float) -> float:
    """A round gridline step giving 4 to 6 lines up to `top`: 1, 2, 2,5 or 5 × a power of ten."""
    raw = top / 5 if top > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw))


def line_chart(
    title: str,
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    maximum: float | None = None,
    *,
    unit: str = "",
    targets: Sequence[tuple[float, str]] = (),
) -> str:
    """A line chart of a few series over months (labels YYYY-MM); gaps (no evidence) stay gaps, never zeros."""
    values = [v for points in series.values() for v in points if v is not None]
    highest = max([*values, *(t for t, _ in targets), 0.0])
    top = maximum if maximum is not None else highest or 1.0
    step = nice_step(top)
    top = step * math.ceil(top / step - 1e-9)
    count = max(1, len(labels) - 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(n: int) -> float:
        return LEFT + plot_w * n / count if len(labels) > 1 else LEFT + plot_w / 2

    def y(v: float) -> float:
        return TOP + plot_h - plot_h * max(0.0, min(v, top)) / top

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>',
    ]
    ticks = round(top / step)
    for k in range(ticks + 1):
        tick = k * step
        parts.append(
            f'<line class="grid" x1="{LEFT}" y1="{y(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{y(tick):.1f}" '
            f'stroke="{"#777" if k == 0 else "#e1e5ea"}"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" class="chart-axis" text-anchor="end">'
            f"{escape(vi.number(tick))}</text>"
        )
    if unit:
        parts.append(
            f'<text x="12" y="{TOP + plot_h / 2:.0f}" class="chart-axis" text-anchor="middle" '
            f'transform="rotate(-90 12 {TOP + plot_h / 2:.0f})">{escape(unit)}</text>'
        )
    every = max(1, math.ceil(len(labels) / 8))
    for n, label in enumerate(labels):
        if n % every == 0 or n == len(labels) - 1:
            parts.append(
                f'<text x="{x(n):.0f}" y="{TOP + plot_h + 15}" class="chart-axis" text-anchor="middle">'
                f"{escape(vi.month_label(label) if len(label) == 7 else label)}</text>"
            )
    for level, label in targets:
        parts.append(
            f'<line class="target" x1="{LEFT}" y1="{y(level):.1f}" x2="{WIDTH - RIGHT}" y2="{y(level):.1f}" '
            f'stroke="{TARGET_COLOUR}" stroke-dasharray="5 3"/>'
            f'<text x="{WIDTH - RIGHT - 2}" y="{y(level) - 4:.1f}" class="chart-axis" fill="{TARGET_COLOUR}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
    for (name, points), colour in zip(series.items(), COLOURS, strict=False):
        run: list[str] = []
        for n, value in enumerate(points):
            if value is None:
                if len(run) > 1:
                    parts.append(
                        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>'
                    )
                run = []
                continue
            run.append(f"{x(n):.1f},{y(value):.1f}")
            shown = vi.number(value)
            parts.append(
                f'<circle cx="{x(n):.1f}" cy="{y(value):.1f}" r="2.5" fill="{colour}"><title>{escape(name)}, '
                f"tháng {escape(vi.month_label(labels[n]) if len(labels[n]) == 7 else labels[n])}: "
                f"{escape(shown)} {escape(unit)}</title></circle>"
            )
        if len(run) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>'
            )
    legend_y = TOP + plot_h + 34
    legend_x = float(LEFT)
    entries = [(name, colour, "") for name, colour in zip(series, COLOURS, strict=False)]
    entries += [(label, TARGET_COLOUR, "dash") for _, label in targets]
    for name, colour, kind in entries:
        if legend_x > LEFT and legend_x + 24 + 6.2 * len(name) > WIDTH - RIGHT:
            legend_x, legend_y = float(LEFT), legend_y + 14
        dash = ' stroke-dasharray="5 3"' if kind else ""
        parts.append(
            f'<line class="legend" x1="{legend_x:.0f}" y1="{legend_y - 4}" x2="{legend_x + 18:.0f}" '
            f'y2="{legend_y - 4}" stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{legend_x + 22:.0f}" y="{legend_y}" class="chart-axis legend-text">{escape(name)}</text>'
        )
        legend_x += 30 + 6.2 * len(name)
    parts.append("</svg>")
    return "".join(parts)
