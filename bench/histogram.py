"""Latency histograms as a standalone SVG (no plotting library to install) and as terminal bars."""

from __future__ import annotations

import math
from pathlib import Path


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def log_bins(low: float, high: float, count: int) -> list[float]:
    low, high = max(low, 1e-3), max(high, low * 1.01)
    step = (math.log10(high) - math.log10(low)) / count
    return [10 ** (math.log10(low) + i * step) for i in range(count + 1)]


def counts(values: list[float], edges: list[float]) -> list[int]:
    out = [0] * (len(edges) - 1)
    for value in values:
        for i in range(len(out)):
            if value < edges[i + 1] or i == len(out) - 1:
                out[i] += 1
                break
    return out


def terminal(values: list[float], edges: list[float], width: int = 50) -> str:
    tally = counts(values, edges)
    top = max(tally) or 1
    return "\n".join(f"  {edges[i] * 1000:8.1f}-{edges[i + 1] * 1000:8.1f} ms {'#' * round(n / top * width):<{width}} {n:,}"
                     for i, n in enumerate(tally) if n)


def svg(values: list[float], path: Path, title: str, marks: dict[str, float], bins: int = 40) -> None:
    """A log-x histogram of latencies in seconds, with vertical lines at ``marks`` (e.g. p50/p95/p99)."""
    ordered = sorted(values)
    edges = log_bins(ordered[0], ordered[-1] * 1.0001, bins)
    tally = counts(ordered, edges)
    width, height, left, right, top, bottom = 900, 420, 70, 20, 50, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    lo, hi = math.log10(edges[0]), math.log10(edges[-1])

    def x(seconds: float) -> float:
        return left + (math.log10(max(seconds, edges[0])) - lo) / (hi - lo) * plot_w

    peak = max(tally) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" '
             f'font-size="12"><rect width="100%" height="100%" fill="white"/>',
             f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15">{title}</text>']
    for i, n in enumerate(tally):
        bar_h = n / peak * plot_h
        parts.append(f'<rect x="{x(edges[i]):.1f}" y="{top + plot_h - bar_h:.1f}" '
                     f'width="{max(1.0, x(edges[i + 1]) - x(edges[i]) - 1):.1f}" height="{bar_h:.1f}" fill="#4c78a8"/>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>')
    decade = math.floor(lo)
    while decade <= hi:
        for factor in (1, 2, 5):
            tick = factor * 10 ** decade
            if edges[0] <= tick <= edges[-1]:
                label = f"{tick * 1000:g} ms" if tick < 1 else f"{tick:g} s"
                parts.append(f'<line x1="{x(tick):.1f}" y1="{top + plot_h}" x2="{x(tick):.1f}" '
                             f'y2="{top + plot_h + 5}" stroke="black"/>'
                             f'<text x="{x(tick):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{label}</text>')
        decade += 1
    parts.append(f'<text x="{left + plot_w / 2}" y="{height - 15}" text-anchor="middle">latency (log scale)</text>'
                 f'<text x="18" y="{top + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 18 {top + plot_h / 2})">events</text>'
                 f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:,}</text>')
    for n, (name, seconds) in enumerate(marks.items()):
        parts.append(f'<line x1="{x(seconds):.1f}" y1="{top}" x2="{x(seconds):.1f}" y2="{top + plot_h}" '
                     f'stroke="#e45756" stroke-dasharray="4 3"/>'
                     f'<text x="{x(seconds) + 4:.1f}" y="{top + 14 + 14 * n}" fill="#e45756">'
                     f'{name} {seconds * 1000:,.0f} ms</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))
