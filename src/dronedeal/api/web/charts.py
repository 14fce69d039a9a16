"""Charts drawn on the server as inline SVG: no script, no CDN, readable offline.

Each chart is a picture of figures the page also prints in a table beside it (the
table is the accessible form); the SVG carries a `<title>` per bar for pointer users
and an `aria-labelledby` naming the table. Markup is built from escaped text only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape
from typing import Final

from markupsafe import Markup

#: colour per series position, distinguishable in greyscale as well (light to dark)
PALETTE: Final = ("#2b6cb0", "#dd8a1f", "#2f855a", "#9b2c2c", "#6b46c1", "#4a5568")
#: colours of stacked series (product categories: up to 14), neighbours far apart
STACK_PALETTE: Final = ("#2b6cb0", "#dd8a1f", "#2f855a", "#9b2c2c", "#6b46c1", "#4a5568",
                        "#63b3ed", "#f6ad55", "#68d391", "#fc8181", "#b794f4", "#a0aec0",
                        "#1a365d", "#744210")
#: legend entries per line, and the height of a legend line
LEGEND_COLUMNS: Final = 4
LEGEND_LINE: Final = 14
WIDTH: Final = 640
HEIGHT: Final = 220
MARGIN: Final = 28
#: bars drawn at most; a longer series keeps its latest groups
MAX_GROUPS: Final = 48
#: x labels drawn at most
MAX_LABELS: Final = 8


@dataclass(frozen=True, slots=True)
class Group:
    """One x position (a month): its label and one value per series."""

    label: str
    values: tuple[int, ...]


def _opening(table_id: str, title: str, height: int) -> tuple[str, str]:
    """The start of a chart's SVG: its box and its title, which the table beside the
    chart (id `table_id`) also names."""
    return (f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-labelledby="{escape(table_id)}-title" '
            f'preserveAspectRatio="xMidYMid meet">',
            f'<title id="{escape(table_id)}-title">{escape(title)}</title>')


def grouped_bars(series: Sequence[str], groups: Sequence[Group], *, table_id: str,
                 title: str) -> Markup:
    """Vertical grouped bars: one group per x label, one bar per series."""
    assert all(len(g.values) == len(series) for g in groups), "one value per series"
    shown = list(groups)[-MAX_GROUPS:]
    top = max((v for g in shown for v in g.values), default=0) or 1
    inner_w = WIDTH - 2 * MARGIN
    inner_h = HEIGHT - 2 * MARGIN
    step = inner_w / max(len(shown), 1)
    bar = max(step * 0.8 / max(len(series), 1), 1.0)
    every = -(-len(shown) // MAX_LABELS) or 1  # label every n-th group so labels never overlap
    parts = [*_opening(table_id, title, HEIGHT),
             f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
             f'y2="{HEIGHT - MARGIN}" stroke="#888"/>',
             f'<text x="{MARGIN}" y="{MARGIN - 8}" class="axis">{top:,}</text>']
    for i, group in enumerate(shown):
        x0 = MARGIN + i * step + step * 0.1
        for j, value in enumerate(group.values):
            h = inner_h * value / top
            parts.append(
                f'<rect x="{x0 + j * bar:.1f}" y="{HEIGHT - MARGIN - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{PALETTE[j % len(PALETTE)]}">'
                f'<title>{escape(group.label)} · {escape(series[j])}: {value:,}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x0:.1f}" y="{HEIGHT - MARGIN + 14}" class="axis">'
                         f'{escape(group.label)}</text>')
    for j, name in enumerate(series):
        parts.append(f'<rect x="{MARGIN + 150 * j}" y="{HEIGHT - 10}" width="10" height="10" '
                     f'fill="{PALETTE[j % len(PALETTE)]}"/><text x="{MARGIN + 150 * j + 14}" '
                     f'y="{HEIGHT - 1}" class="axis">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def gauge(value: Decimal | None, target: Decimal, *, label: str) -> Markup:
    """A horizontal gauge of a ratio against its minimum (the scale runs to 2 × target
    or the value, whichever is larger), with the minimum marked."""
    scale = max(target * 2, value or Decimal(0), Decimal("0.0001"))
    width = 300
    filled = 0 if value is None else int(width * value / scale)
    mark = int(width * target / scale)
    colour = "#2f855a" if value is not None and value >= target else "#c05621"
    return Markup(
        f'<svg class="gauge" viewBox="0 0 {width} 24" role="img" aria-label="{escape(label)}">'
        f'<rect x="0" y="4" width="{width}" height="16" fill="#e2e8f0"/>'
        f'<rect x="0" y="4" width="{filled}" height="16" fill="{colour}"/>'
        f'<line x1="{mark}" y1="0" x2="{mark}" y2="24" stroke="#1a202c" stroke-width="2"/>'
        f"</svg>")


def share_bar(part: int, whole: int, *, label: str) -> Markup:
    """A bar showing `part` of `whole` (a license drawn down, a ceiling used)."""
    width = 200
    filled = 0 if whole <= 0 else min(width, max(0, width * part // whole))
    colour = "#c05621" if whole > 0 and part * 10 >= whole * 9 else "#2b6cb0"
    return Markup(
        f'<svg class="bar" viewBox="0 0 {width} 12" role="img" aria-label="{escape(label)}">'
        f'<rect x="0" y="0" width="{width}" height="12" fill="#e2e8f0"/>'
        f'<rect x="0" y="0" width="{filled}" height="12" fill="{colour}"/></svg>')


def lines(series: Sequence[str], groups: Sequence[Group], *, table_id: str,
          title: str) -> Markup:
    """One line per series over the x labels, around a zero line (values may be
    negative: a balance owed), with a legend of as many lines as the series need."""
    assert all(len(g.values) == len(series) for g in groups), "one value per series"
    shown = list(groups)[-MAX_GROUPS:]
    values = [0, *(v for g in shown for v in g.values)]
    high, low = max(values), min(values)
    span = (high - low) or 1
    inner_w = WIDTH - 2 * MARGIN
    inner_h = HEIGHT - 2 * MARGIN
    step = inner_w / max(len(shown) - 1, 1)
    every = -(-len(shown) // MAX_LABELS) or 1

    def y(value: int) -> float:
        return MARGIN + inner_h * (high - value) / span

    legend, height = _legend(series)
    parts = [*_opening(table_id, title, height),
             f'<line x1="{MARGIN}" y1="{y(0):.1f}" x2="{WIDTH - MARGIN}" y2="{y(0):.1f}" '
             f'stroke="#888"/>']
    for j, name in enumerate(series):
        points = " ".join(f"{MARGIN + i * step:.1f},{y(g.values[j]):.1f}"
                          for i, g in enumerate(shown))
        parts.append(f'<polyline fill="none" stroke="{STACK_PALETTE[j % len(STACK_PALETTE)]}" '
                     f'stroke-width="2" points="{points}"><title>{escape(name)}</title>'
                     f'</polyline>')
    for i, group in enumerate(shown):
        if i % every == 0:
            parts.append(f'<text x="{MARGIN + i * step:.1f}" y="{HEIGHT - MARGIN + 14}" '
                         f'class="axis">{escape(group.label)}</text>')
    parts += legend
    parts.append("</svg>")
    return Markup("".join(parts))


def _legend(series: Sequence[str]) -> tuple[list[str], int]:
    """A legend of `LEGEND_COLUMNS` entries a line under the plot (colours of
    `STACK_PALETTE`), and the chart's height with it."""
    column = (WIDTH - 2 * MARGIN) // LEGEND_COLUMNS
    parts = []
    for j, name in enumerate(series):
        x = MARGIN + column * (j % LEGEND_COLUMNS)
        y_text = HEIGHT - 1 + LEGEND_LINE * (j // LEGEND_COLUMNS)
        parts.append(f'<rect x="{x}" y="{y_text - 9}" width="10" height="10" '
                     f'fill="{STACK_PALETTE[j % len(STACK_PALETTE)]}"/>'
                     f'<text x="{x + 14}" y="{y_text}" class="axis">{escape(name)}</text>')
    legend_lines = -(-len(series) // LEGEND_COLUMNS)
    return parts, HEIGHT + LEGEND_LINE * max(legend_lines - 1, 0) + 4  # room for descenders


def stacked_bars(series: Sequence[str], groups: Sequence[Group], *, table_id: str,
                 title: str) -> Markup:
    """Vertical stacked bars: one bar per x label, one segment per series (bottom up in
    series order), with a legend of as many lines as the series need."""
    assert all(len(g.values) == len(series) for g in groups), "one value per series"
    assert all(v >= 0 for g in groups for v in g.values), "stacked values are counts"
    shown = list(groups)[-MAX_GROUPS:]
    top = max((sum(g.values) for g in shown), default=0) or 1
    legend, height = _legend(series)
    inner_w = WIDTH - 2 * MARGIN
    inner_h = HEIGHT - 2 * MARGIN
    base = HEIGHT - MARGIN
    step = inner_w / max(len(shown), 1)
    bar = max(step * 0.7, 1.0)
    every = -(-len(shown) // MAX_LABELS) or 1
    parts = [*_opening(table_id, title, height),
             f'<line x1="{MARGIN}" y1="{base}" x2="{WIDTH - MARGIN}" y2="{base}" '
             f'stroke="#888"/>',
             f'<text x="{MARGIN}" y="{MARGIN - 8}" class="axis">{top:,}</text>']
    for i, group in enumerate(shown):
        x0 = MARGIN + i * step + step * 0.15
        y = float(base)
        for j, value in enumerate(group.values):
            if value == 0:
                continue
            h = inner_h * value / top
            y -= h
            parts.append(
                f'<rect x="{x0:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{STACK_PALETTE[j % len(STACK_PALETTE)]}">'
                f'<title>{escape(group.label)} · {escape(series[j])}: {value:,}</title></rect>')
        if i % every == 0:
            parts.append(f'<text x="{x0:.1f}" y="{base + 14}" class="axis">'
                         f'{escape(group.label)}</text>')
    parts += legend
    parts.append("</svg>")
    return Markup("".join(parts))
