"""Small inline SVG charts for the pages: no JavaScript, no build step, text in the page's own font."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT, PAD = 520, 160, 34


def line_chart(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], maximum: float | None = None
) -> str:
    """A line chart of a few series over months; gaps (no evidence) stay gaps, never zeros."""
    values = [v for points in series.values() for v in points if v is not None]
    top = maximum if maximum is not None else (max(values) if values else 1.0) or 1.0
    count = max(1, len(labels) - 1)
    colours = ("#0a5fa8", "#c0392b", "#27824a", "#8e44ad")

    def x(n: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * n / count

    def y(v: float) -> float:
        return HEIGHT - PAD + (-(HEIGHT - 2 * PAD) * v / top)

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f'<text x="{PAD}" y="14" class="chart-title">{escape(title)}</text>',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<text x="4" y="{y(top) + 4:.0f}" class="chart-axis">{top:g}</text>']  # fmt: skip
    for n, label in enumerate(labels):
        if n % max(1, len(labels) // 6) == 0 or n == len(labels) - 1:
            parts.append(
                f'<text x="{x(n):.0f}" y="{HEIGHT - 12}" class="chart-axis" text-anchor="middle">{escape(label)}</text>'
            )
    for (name, points), colour in zip(series.items(), colours, strict=False):
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
            parts.append(
                f'<circle cx="{x(n):.1f}" cy="{y(value):.1f}" r="2.5" fill="{colour}"><title>{escape(name)} {escape(labels[n])}: {value:.2f}</title></circle>'
            )
        if len(run) > 1:
            parts.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>'
            )
    legend_x = WIDTH - PAD - 150
    for n, (name, colour) in enumerate(zip(series, colours, strict=False)):
        parts.append(
            f'<text x="{legend_x}" y="{14 + 13 * n}" fill="{colour}" class="chart-axis">■ {escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
