"""What `leadflow backtest` and `leadflow tune` print and write: terminal tables and a self-contained HTML page.

Why one module for both: the tune report is the backtest report twice (current points and
the candidate's) plus the search's figures; the tables and charts share their columns.
Pure text in, text out: the commands decide where it goes. Every value that came from a
file (rule ids, versions, paths) is escaped in the HTML; the terminal lines go through
``leadflow.terminal.printable`` in the command.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Sequence

from leadflow.svg_charts import histogram, line_chart, paired_bars
from streams.core.backtest import Report
from streams.core.lead_figures import LeadFigures
from streams.core.tuning import Candidate, Settings, TuneResult
from streams.core.tuning_data import Space

STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;color:#111;max-width:1200px}"
         "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ddd;padding:3px 8px;"
         "text-align:right}th{background:#f4f4f5}td:first-child,th:first-child{text-align:left}"
         ".flag{color:#b91c1c;font-weight:bold}pre{background:#f8f8f8;padding:1em;overflow:auto;font-size:12px}"
         ".charts{display:flex;flex-wrap:wrap;gap:1em}")


def day(ms: int | None) -> str:
    return "-" if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%d")


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _days(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} d"


COUNT_COLUMNS = ("judged", "accepted", "rejected", "won", "open", "unknown", "reject rate", "won value", "value/lead")
ROW_COLUMNS = ("threshold", "leads", *COUNT_COLUMNS, "median to promotion")


def count_cells(figures: LeadFigures) -> list[str]:
    """What sales made of the leads: the columns the backtest's rows and the tuner's tables share."""
    return [f"{figures.judged:,}", f"{figures.accepted:,}", f"{figures.rejected:,}", f"{figures.won:,}",
            f"{figures.open:,}", f"{figures.unknown:,}", _rate(figures.reject_rate), _money(figures.won_value),
            _money(figures.value_per_lead)]


def row_cells(row: LeadFigures, model_threshold: float) -> list[str]:
    mark = "*" if row.threshold == model_threshold else ""
    return [f"{mark}{row.threshold:g}", f"{row.leads:,}", *count_cells(row), _days(row.median_days_to_promotion)]


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))
             for cells in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(line.rstrip() for line in lines)


def window_text(report: Report) -> str:
    window = report.window
    if window.since is None and window.until is None:
        return "all promotions"
    return f"promotions from {day(window.since) if window.since else 'the start'} to " \
           f"{day(window.until - 1) if window.until else 'the end'}"


def backtest_text(report: Report) -> str:
    lines = [f"backtest of model {report.model_version} (threshold {report.model_threshold:g}) over "
             f"{report.prospects:,} prospects, {report.inputs:,} inputs from {day(report.first_at)} to "
             f"{day(report.last_at)}; {window_text(report)}",
             "",
             text_table(ROW_COLUMNS, [row_cells(row, report.model_threshold) for row in report.rows]),
             "* the model's threshold. judged = won + rejected + open; reject rate = rejected / judged; "
             "value/lead = won value / judged;",
             "  unknown = leads sales never judged (counted apart, never as good or bad)",
             "", "rules: share of their points from repeats (activations after a prospect's first)",
             text_table(("rule", "activations", "prospects", "from repeats", ""),
                        [(r.rule, f"{r.activations:,}", f"{r.prospects:,}", f"{r.repeat_share:.0%}",
                          "most points from repeats: consider a cap or once: true" if r.flagged else "")
                         for r in report.rules])]
    return "\n".join(lines)


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], flags: Sequence[bool] = ()) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr" + (' class="flag"' if n < len(flags) and flags[n] else "") + ">"
                   + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>" for n, cells in enumerate(rows))
    return f"<table><tr>{head}</tr>{body}</table>"


def _page(title: str, parts: Sequence[str]) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>' + "".join(parts) + "</body></html>\n")


def backtest_html(report: Report) -> str:
    x = [row.threshold for row in report.rows]
    parts = [f"<p>{escape(backtest_text(report).splitlines()[0])}</p>",
             _html_table(ROW_COLUMNS, [row_cells(row, report.model_threshold) for row in report.rows]),
             '<div class="charts">',
             line_chart("Reject rate by threshold", x, [(report.model_version, [r.reject_rate for r in report.rows])],
                        "promotion threshold", "reject rate", percent=True,
                        marks=[("model", report.model_threshold)]),
             line_chart("Won value by threshold", x, [(report.model_version, [r.won_value for r in report.rows])],
                        "promotion threshold", "won value", marks=[("model", report.model_threshold)]),
             histogram(f"Score at the outcome: {report.model_version}", report.edges, report.won_scores,
                       report.rejected_scores, report.model_threshold),
             "</div><h2>Rules: points from repeats</h2>",
             _html_table(("rule", "activations", "prospects", "from repeats", ""),
                         [(r.rule, f"{r.activations:,}", f"{r.prospects:,}", f"{r.repeat_share:.0%}",
                           "most points from repeats: consider a cap or once: true" if r.flagged else "")
                          for r in report.rules], [r.flagged for r in report.rules])]
    return _page(f"Backtest: {report.model_version}", parts)


@dataclass(frozen=True)
class TuneView:
    """Everything the tune report shows, gathered by the command."""

    model_version: str
    prospects: int
    inputs: int
    candidates: int  # prospects a candidate could make leads (or sales judged)
    bounds: Space
    settings: Settings
    holdout: str
    result: TuneResult
    curve_x: tuple[float, ...] = ()
    curves: tuple[tuple[str, tuple[float | None, ...], tuple[float, ...]], ...] = ()  # name, reject rates, won values
    edges: tuple[float, ...] = ()
    histograms: tuple[tuple[str, float, tuple[int, ...], tuple[int, ...]], ...] = ()  # name, threshold, won, rejected
    diff: str = ""
    written: str | None = None


FIGURE_COLUMNS = ("", "threshold", "leads", "per {per}", *COUNT_COLUMNS)


def _figure_cells(name: str, figures: LeadFigures) -> list[str]:
    return [name, f"{figures.threshold:g}", f"{figures.leads:,}", f"{figures.leads_per_period:,.1f}",
            *count_cells(figures)]


def _stages(view: TuneView) -> list[tuple[str, Candidate]]:
    result = view.result
    named = [("current", result.current), ("stage 1: reject rate", result.stage1),
             ("stage 2: won value", result.stage2)]
    return [(name, candidate) for name, candidate in named if candidate is not None]


def _figure_tables(view: TuneView) -> list[tuple[str, list[str], list[list[str]]]]:
    header = [c.format(per=view.settings.per) for c in FIGURE_COLUMNS]
    periods = view.result.periods
    return [(f"in-sample: {day(periods.start)} to {day(periods.split)} (fitted on)", header,
             [_figure_cells(name, c.in_sample) for name, c in _stages(view)]),
            (f"held-out: {day(periods.split)} to {day(periods.end)} ({view.holdout}; reported only)", header,
             [_figure_cells(name, c.held_out) for name, c in _stages(view)])]


def _point_rows(view: TuneView) -> list[list[str]]:
    bounds, final = view.bounds, view.result.stage2 or view.result.stage1
    rows = []
    for i, name in enumerate(bounds.names):
        new = final.points[i] if final else bounds.current[i]
        rule = "frozen" if name in bounds.frozen else "fixed (0 points)" if bounds.current[i] == 0 else \
            f"{bounds.lows[i]:g}..{bounds.highs[i]:g}"
        rows.append([name, f"{bounds.current[i]:g}", f"{new:g}", f"{new - bounds.current[i]:+g}", rule])
    return rows


def tune_text(view: TuneView) -> str:
    settings, bounds = view.settings, view.bounds
    lines = [f"tune: model {view.model_version} over {view.prospects:,} prospects ({view.inputs:,} inputs); "
             f"{view.candidates:,} could become leads or were judged",
             f"capacity: at least {settings.min_leads:g} leads a {settings.per}; each rule within "
             f"{bounds.max_change:.0%} of its points, threshold {bounds.grid[0]:g}..{bounds.grid[-1]:g}"
             + (f"; frozen: {', '.join(bounds.frozen)}" if bounds.frozen else ""),
             f"stage 2 keeps the reject rate within {settings.tolerance:.1%} of stage 1's best (and never above the "
             f"current model's); outcome-unknown share at most {settings.unknown_slack:.0%} above the current "
             f"model's; a proposal needs {settings.min_judged} judged leads and {settings.min_won} won deals held out"]
    for title, header, rows in _figure_tables(view):
        lines += ["", title, text_table(header, rows)]
    if view.result.stage1 is not None:
        lines += ["", "points", text_table(("rule", "current", "candidate", "change", "bounds"), _point_rows(view))]
    lines += ["", view.result.message]
    return "\n".join(lines)


def tune_html(view: TuneView) -> str:
    parts = [f"<p>{escape(line)}</p>" for line in tune_text(view).split("\n\n")[0].splitlines()]
    for title, header, rows in _figure_tables(view):
        parts += [f"<h2>{escape(title)}</h2>", _html_table(header, rows)]
    parts.append(f"<p><b>{escape(view.result.message)}</b></p>")
    if view.curves:
        marks = [(f"{name.split(':')[0]} {threshold:g}", threshold) for name, threshold, _, _ in view.histograms]
        parts += ['<h2>Before and after, over every period</h2><div class="charts">',
                  line_chart("Reject rate by threshold", view.curve_x, [(n, r) for n, r, _ in view.curves],
                             "promotion threshold", "reject rate", percent=True, marks=marks),
                  line_chart("Won value by threshold", view.curve_x, [(n, v) for n, _, v in view.curves],
                             "promotion threshold", "won value", marks=marks), "</div>"]
    if view.result.stage1 is not None:
        rows = _point_rows(view)
        parts += ["<h2>Points per rule</h2>",
                  paired_bars("Points: current and candidate", [r[0] for r in rows],
                              [float(r[1]) for r in rows], [float(r[2]) for r in rows]),
                  _html_table(("rule", "current", "candidate", "change", "bounds"), rows)]
    if view.histograms:
        parts.append('<h2>Score at the outcome: won and rejected prospects</h2><div class="charts">')
        parts += [histogram(name, view.edges, won, rejected, threshold)
                  for name, threshold, won, rejected in view.histograms]
        parts.append("</div>")
    if view.diff:
        parts += [f"<h2>Candidate {escape(view.written or '')}</h2>", f"<pre>{escape(view.diff)}</pre>"]
    return _page(f"Tuning: {view.model_version}", parts)
