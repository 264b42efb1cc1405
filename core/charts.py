"""Small charts drawn on the server as SVG: no script, no network, readable by screen readers
through their title and description, and always shown next to a table of the same figures.

Only what the dashboards need (daily lines with marked points); a plotting library would
bring megabytes for this.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies, each at
# 3:1 or more against white (WCAG's contrast for graphics).
PALETTE = ("#0072B2", "#D55E00", "#007A5E", "#B4457F", "#5E4FA2", "#6B6B6B")


@dataclass
class Line:
    label: str
    values: list[float]
    colour: str = ""


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    days: list[date],
    lines: list[Line],
    *,
    title: str,
    description: str,
    marks: dict[tuple[int, int], str] | None = None,
    width: int = 760,
    height: int = 260,
) -> SafeString:
    """Lines over `days`; `marks` puts a ringed dot on (line index, day index) with a tooltip
    (an alert). Colours are given to the lines in order when they have none."""
    for n, line in enumerate(lines):
        line.colour = line.colour or PALETTE[n % len(PALETTE)]
    left, right, top, bottom = 44, 28, 12, 34
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max((max(line.values, default=0) for line in lines), default=0))
    step_x = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return left + i * step_x

    def y(v: float) -> float:
        return top + plot_h - (v / peak) * plot_h

    uid = f"chart-{abs(hash((title, tuple(days[:1]), len(days)))) % 10**8}"
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="{uid}-t {uid}-d" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{uid}-t">{escape(title)}</title>',
        f'<desc id="{uid}-d">{escape(description)}</desc>',
    ]
    for tick in (0, peak / 2, peak):
        ty = y(tick)
        label = f"{tick:g}"
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{ty:.1f}" y2="{ty:.1f}" '
            'stroke="#c9d1dc" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" font-size="12" '
            f'fill="#505a66">{label}</text>'
        )
    for i, day in enumerate(days):
        if (len(days) - 1 - i) % 7 == 0:  # one label a week, ending on the last day
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" font-size="12" '
                f'fill="#505a66">{day:%d/%m}</text>'
            )
    for line in lines:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(line.values))
        parts.append(
            f'<polyline fill="none" stroke="{line.colour}" stroke-width="2" '
            f'stroke-linejoin="round" points="{points}"><title>{escape(line.label)}</title>'
            "</polyline>"
        )
    for (n, i), tip in (marks or {}).items():
        if n < len(lines) and i < len(days):
            v = lines[n].values[i]
            parts.append(
                f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="6" fill="#fff" '
                f'stroke="{lines[n].colour}" stroke-width="3"><title>{escape(tip)}</title>'
                "</circle>"
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above goes through escape()
