"""Small inline SVG charts for the backtest and tuning reports: lines, paired bars, histograms.

Why our own: the report is one self-contained HTML file that opens anywhere, offline, with no
JavaScript or CDN; three chart shapes in ~150 lines of SVG are less to trust than a charting
library. Every text that reaches the page is escaped (rule ids and versions come from a YAML
file someone edited).
"""

from __future__ import annotations

from html import escape
from typing import Sequence

WIDTH, HEIGHT = 560, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 28, 44
COLOURS = ("#6b7280", "#2563eb", "#16a34a", "#dc2626")  # before (grey), after (blue), won (green), rejected (red)


def _frame(title: str, body: list[str], x_label: str, y_label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
            f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'
            + "".join(body)
            + f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" font-size="11" text-anchor="middle">'
              f'{escape(x_label)}</text>'
            + f'<text x="12" y="{(TOP + HEIGHT - BOTTOM) / 2}" font-size="11" text-anchor="middle" '
              f'transform="rotate(-90 12 {(TOP + HEIGHT - BOTTOM) / 2})">{escape(y_label)}</text></svg>')


def _scale(low: float, high: float, start: float, end: float):
    span = (high - low) or 1.0
    return lambda value: start + (value - low) / span * (end - start)


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def _label(value: float, percent: bool) -> str:
    if percent:
        return f"{value:.0%}"
    return f"{value / 1e6:.1f}M" if abs(value) >= 1e6 else f"{value / 1e3:.0f}k" if abs(value) >= 1e4 else f"{value:g}"


def _axes(x: Sequence[float], y_low: float, y_high: float, percent: bool) -> tuple[list[str], object, object]:
    sx = _scale(min(x), max(x), LEFT, WIDTH - RIGHT)
    sy = _scale(y_low, y_high, HEIGHT - BOTTOM, TOP)
    body = [f'<line x1="{LEFT}" y1="{HEIGHT - BOTTOM}" x2="{WIDTH - RIGHT}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>',
            f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{HEIGHT - BOTTOM}" stroke="#999"/>']
    for tick in _ticks(y_low, y_high):
        body.append(f'<text x="{LEFT - 6}" y="{sy(tick) + 4:.1f}" font-size="10" text-anchor="end">'
                    f'{_label(tick, percent)}</text>')
        body.append(f'<line x1="{LEFT}" y1="{sy(tick):.1f}" x2="{WIDTH - RIGHT}" y2="{sy(tick):.1f}" '
                    f'stroke="#eee"/>')
    for tick in _ticks(min(x), max(x), 6):
        body.append(f'<text x="{sx(tick):.1f}" y="{HEIGHT - BOTTOM + 14}" font-size="10" text-anchor="middle">'
                    f'{tick:g}</text>')
    return body, sx, sy


def line_chart(title: str, x: Sequence[float], series: Sequence[tuple[str, Sequence[float | None]]],
               x_label: str, y_label: str, percent: bool = False, marks: Sequence[tuple[str, float]] = ()) -> str:
    """One line per series over ``x`` (None: no point there); ``marks`` are labelled vertical lines."""
    values = [v for _, ys in series for v in ys if v is not None]
    if not x or not values:
        return _frame(title, ['<text x="80" y="120" font-size="12">no data</text>'], x_label, y_label)
    low, high = (0.0, max(1.0, max(values))) if percent else (min(0.0, min(values)), max(values) or 1.0)
    body, sx, sy = _axes(x, low, high, percent)
    for n, (name, ys) in enumerate(series):
        colour = COLOURS[min(n, 1)] if len(series) <= 2 else COLOURS[n % len(COLOURS)]
        points = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(x, ys) if b is not None)  # type: ignore[operator]
        body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        body.append(f'<text x="{WIDTH - RIGHT - 4}" y="{TOP + 14 * (n + 1)}" font-size="11" text-anchor="end" '
                    f'fill="{colour}">{escape(name)}</text>')
    for n, (name, at) in enumerate(marks):
        body.append(f'<line x1="{sx(at):.1f}" y1="{TOP}" x2="{sx(at):.1f}" y2="{HEIGHT - BOTTOM}" '
                    f'stroke="{COLOURS[min(n, 1)]}" stroke-dasharray="4 3"/>')
        body.append(f'<text x="{sx(at) + 3:.1f}" y="{TOP + 10 + 12 * n}" font-size="10" '
                    f'fill="{COLOURS[min(n, 1)]}">{escape(name)}</text>')
    return _frame(title, body, x_label, y_label)


def paired_bars(title: str, names: Sequence[str], before: Sequence[float], after: Sequence[float]) -> str:
    """Horizontal bars per name: the current points (grey) and the candidate's (blue), signs kept."""
    height = TOP + 22 * len(names) + BOTTOM
    values = [*before, *after, 0.0]
    low, high = min(values), max(values)
    label_width = 150
    sx = _scale(low, high if high > low else low + 1, LEFT + label_width, WIDTH - RIGHT - 40)
    body = [f'<line x1="{sx(0):.1f}" y1="{TOP}" x2="{sx(0):.1f}" y2="{height - BOTTOM + 4}" stroke="#999"/>']
    for n, (name, old, new) in enumerate(zip(names, before, after)):
        y = TOP + 22 * n
        body.append(f'<text x="{LEFT + label_width - 6}" y="{y + 13}" font-size="11" text-anchor="end">'
                    f'{escape(name)}</text>')
        for k, (value, colour) in enumerate(((old, COLOURS[0]), (new, COLOURS[1]))):
            x0, x1 = sorted((sx(0), sx(value)))
            body.append(f'<rect x="{x0:.1f}" y="{y + 2 + 9 * k}" width="{max(x1 - x0, 1):.1f}" height="8" '
                        f'fill="{colour}"/>')
        body.append(f'<text x="{max(sx(old), sx(new), sx(0)) + 4:.1f}" y="{y + 13}" font-size="10">'
                    f'{old:g} → {new:g}</text>')
    body.append(f'<text x="{WIDTH - RIGHT}" y="{TOP - 8}" font-size="10" text-anchor="end">'
                f'<tspan fill="{COLOURS[0]}">current</tspan> / <tspan fill="{COLOURS[1]}">candidate</tspan></text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} '
            f'{height}" role="img" aria-label="{escape(title)}"><text x="{LEFT}" y="16" font-size="13" '
            f'font-weight="bold">{escape(title)}</text>' + "".join(body) + "</svg>")


def histogram(title: str, edges: Sequence[float], won: Sequence[int], rejected: Sequence[int],
              threshold: float) -> str:
    """Won (green) and rejected (red) prospects per score bin, side by side; the dashed line is the threshold."""
    high = -(-max([*won, *rejected, 1]) // 4) * 4  # a multiple of 4: whole numbers on the five ticks
    body, sx, sy = _axes(list(edges), 0.0, float(high), False)
    width = (sx(edges[1]) - sx(edges[0])) / 2 - 1  # type: ignore[operator]
    for n, (w, r) in enumerate(zip(won, rejected)):
        left = sx(edges[n])  # type: ignore[operator]
        for k, (count, colour) in enumerate(((w, COLOURS[2]), (r, COLOURS[3]))):
            top = sy(count)  # type: ignore[operator]
            body.append(f'<rect x="{left + k * (width + 1):.1f}" y="{top:.1f}" width="{max(width, 1):.1f}" '
                        f'height="{HEIGHT - BOTTOM - top:.1f}" fill="{colour}" fill-opacity="0.8"/>')
    mark = sx(min(max(threshold, edges[0]), edges[-1]))  # type: ignore[operator]
    body.append(f'<line x1="{mark:.1f}" y1="{TOP}" x2="{mark:.1f}" y2="{HEIGHT - BOTTOM}" stroke="#111" '
                f'stroke-dasharray="4 3"/>')
    body.append(f'<text x="{WIDTH - RIGHT - 4}" y="{TOP + 12}" font-size="11" text-anchor="end">'
                f'<tspan fill="{COLOURS[2]}">won</tspan> / <tspan fill="{COLOURS[3]}">rejected</tspan>; '
                f'threshold {threshold:g}</text>')
    return _frame(title, body, "score at the outcome (the last bin takes everything above)", "prospects")
