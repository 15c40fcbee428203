"""`leadflow backtest` and `leadflow tune`: histories in, figures, a report and a candidate model out.

The shell around ``streams.core.backtest`` / ``tuning``: it reads every prospect's retained
history from the worker's prospect states (``read_states``: this machine's worker stores plus the changelog's
tail, else the changelog) or a history file (``--data``, read in the
worker processes by ``leadflow.history_shards``), replays them in worker processes (``replay_pool``), prints the
terminal summary, writes the HTML report and the candidate model. Progress goes to stderr.

Exit codes: 0 for a backtest, and for a tune that proposed a candidate; 1 when tune proposes
nothing (too little held-out data, no improvement, not better on held-out data, capacity out
of reach), each with its reason; 2 for usage errors.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

from leadflow.config import Config
from leadflow.errors import UsageError

if TYPE_CHECKING:
    from leadflow.replay_pool import Mapper, Seconds, ShardPool, Source
    from streams.core.backtest import Tally, Window
    from leadflow.tuning_report import TuneView
    from streams.core.history import Input
    from streams.core.model import ScoringModel
    from streams.core.tuning import Settings, TuneResult
    from streams.core.tuning_data import Space

History = tuple[str, list["Input"]]


def add_parsers(commands: argparse._SubParsersAction, settings: Callable[..., argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--model", dest="model_file", metavar="M.yaml",
                        help="the scoring model to test (default: LEADFLOW_MODEL, the one the workers run)")
    common.add_argument("--data", metavar="FILE", help="a history file (.jsonl or .csv, as `leadflow import` reads) "
                        "instead of the retained histories in the worker's changelog")
    common.add_argument("--html", metavar="FILE", help="also write the report as a self-contained HTML page")
    common.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="worker processes for the replay (default: one per core)")
    backtest_parser = commands.add_parser(
        "backtest", parents=[common, settings("backtest", exclude=("LEADFLOW_MODEL",))],
        help="replay every prospect's history under a model and score the leads it would send against what "
             "sales said: reject rate, won deals and value, for its threshold and a sweep")
    backtest_parser.add_argument("--since", metavar="DATE", help="count promotions from this date (UTC, ISO 8601)")
    backtest_parser.add_argument("--until", metavar="DATE", help="count promotions before this date")
    backtest_parser.add_argument("--thresholds", metavar="T1,T2,...",
                                 help="thresholds to sweep (default: half to one and a half times the model's)")
    tune_parser = commands.add_parser(
        "tune", parents=[common, settings("tune", exclude=("LEADFLOW_MODEL",))],
        help="fit rule points and the threshold on older sales outcomes (stage 1: fewest rejects at the "
             "capacity; stage 2: most won value), check them on the newest, write a candidate model")
    tune_parser.add_argument("--min-leads", type=float, required=True, metavar="N",
                             help="sales' capacity: send at least N leads per --per")
    tune_parser.add_argument("--per", choices=("month", "week"), default="month",
                             help="the period of --min-leads (default month)")
    tune_parser.add_argument("--freeze", nargs="+", action="extend", default=[], metavar="RULE",
                             help="rules whose points stay as they are (fit rules as fit:<id> or <id>)")
    tune_parser.add_argument("--max-change", default="50%", metavar="PCT",
                             help="how far each rule's points and the threshold may move (default 50%%)")
    tune_parser.add_argument("--tolerance", default="2%", metavar="PCT", help="stage 2 may give up this much of "
                             "stage 1's reject rate for more won value (percentage points; default 2%%)")
    tune_parser.add_argument("--holdout", default="25%", metavar="PCT|DURATION",
                             help="the newest outcomes held out: a share of judged prospects (default 25%%) or a "
                                  "period such as 90d")
    tune_parser.add_argument("--out", metavar="FILE", help="where the candidate goes (default: ./<model>-tuned.yaml)")


def percent(text: str, what: str) -> float:
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise UsageError(f"{what} must be a percentage such as 50%, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{what} must be a positive percentage, got {text!r}")
    return value


def date_ms(text: str | None, what: str) -> int | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"{what} must be a date such as 2026-01-31 (UTC) or an ISO 8601 time, got {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


def load_model(config: Config, path: str | None) -> tuple[ScoringModel, str, str]:
    from streams.core.model import parse_model

    source = Path(path) if path else config.model_path
    try:
        text = source.read_text()
    except OSError as exc:
        raise UsageError(f"{source}: cannot read scoring model: {exc.strerror}") from None
    return parse_model(text, str(source)), text, str(source)


def load_histories(config: Config, command: str) -> list[History]:
    """Every prospect's retained inputs from the worker's states (its stores and the changelog), in canonical
    order, sorted by key (so chunks, and figures, do not depend on the order the states were read in)."""
    from leadflow.command_settings import require
    from streams.state_reader import read_states

    require(config, command, kafka=True)
    states = asyncio.run(read_states(config))
    return [(key, list(state.history)) for key, state in sorted(states.items()) if state.alias_of is None]


@contextmanager
def replay_sources(config: Config, data: str | None, command: str, model_text: str, model_source: str,
                   processes: int) -> Iterator[tuple[Iterable[Source], Mapper, int | None]]:
    """The chunks to replay, the workers to replay them on, and the prospect count when known beforehand.

    A history file (``data``) is read by the workers themselves (``history_shards``), into shard files that live
    as long as this context; the changelog's histories are read here and sent in encoded chunks."""
    from leadflow.replay_pool import Progress, chunked, processes_for, workers

    if data is None:
        histories = load_histories(config, command)
        with workers(model_text, model_source, processes_for(len(histories), processes)) as mapper:
            yield chunked(histories), mapper, len(histories)
        return
    from leadflow.history_file import HistoryError
    from leadflow.history_import import rules_for
    from leadflow.history_shards import Plan, first_bad_row, read_shards

    plan = Plan.of(data)
    rules = rules_for(config)  # received_at = occurred_at: independent of today
    with tempfile.TemporaryDirectory(prefix="leadflow-shards-") as directory, \
            workers(model_text, model_source, plan.processes(processes)) as mapper:
        shards = read_shards(data, plan, rules, mapper, directory, Progress(f"{command}: reading {data}", None,
                                                                             unit="rows"))
        try:
            yield shards, mapper, None
        except HistoryError as error:  # a shard's first bad row: the file's may be in another shard
            raise first_bad_row(shards, mapper, error) from None


def backtest_tally(config: Config, data: str | None, model: ScoringModel, model_text: str, model_source: str,
                   thresholds: Sequence[float], window: Window, processes: int,
                   seconds: Seconds | None = None) -> Tally:
    """The command's whole path from the histories to the tally (`bench/backtest.py` times it)."""
    from leadflow.replay_pool import Progress, backtest

    with replay_sources(config, data, "backtest", model_text, model_source, processes) as (sources, mapper, count):
        return backtest(sources, model_text, model_source, model, thresholds, window,
                        progress=Progress("backtest", count), seconds=seconds, mapper=mapper)


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror}") from None


def cmd_backtest(config: Config, args: argparse.Namespace) -> int:
    from leadflow.terminal import printable, printable_lines
    from leadflow.tuning_report import backtest_html, backtest_text
    from streams.core.backtest import Window, default_thresholds, report

    model, text, source = load_model(config, args.model_file)
    window = Window(date_ms(args.since, "--since"), date_ms(args.until, "--until"))
    thresholds = default_thresholds(model)
    if args.thresholds:
        try:
            thresholds = tuple(sorted({float(t) for t in args.thresholds.split(",") if t.strip()}
                                      | {model.promote_threshold}))
        except ValueError:
            raise UsageError(f"--thresholds must be numbers separated by commas, got {args.thresholds!r}") from None
    total = backtest_tally(config, args.data, model, text, source, thresholds, window, args.processes)
    result = report(total, model)
    print(printable_lines(backtest_text(result)))
    if args.html:
        _write(args.html, backtest_html(result))
        print(printable(f"report written to {args.html}"), file=sys.stderr)
    return 0


def cmd_tune(config: Config, args: argparse.Namespace) -> int:
    from leadflow.replay_pool import Progress, ShardPool, extract_all
    from leadflow.terminal import printable, printable_lines
    from leadflow.tuning_report import day, tune_html, tune_text
    from streams.core.candidate_model import candidate_text, unified_diff, version_for
    from streams.core.tuning import PROPOSED, Periods, Settings, split_at, tune
    from streams.core.tuning_data import SpaceError, space

    model, text, source = load_model(config, args.model_file)
    try:
        bounds = space(model, args.freeze, percent(args.max_change, "--max-change"))
    except SpaceError as exc:
        raise UsageError(str(exc)) from None
    holdout: float | int = _holdout(args.holdout)
    settings = Settings(args.min_leads, args.per, percent(args.tolerance, "--tolerance"))
    if args.min_leads <= 0:
        raise UsageError("--min-leads must be above 0 (sales' capacity per --per)")
    with replay_sources(config, args.data, "tune", text, source, args.processes) as (sources, mapper, count):
        extracted = extract_all(sources, text, source, bounds, progress=Progress("tune: features", count),
                                mapper=mapper)
    anchors = [p.anchor for p in extracted.prospects if p.anchor is not None]
    if not anchors or extracted.first_at is None or extracted.last_at is None:
        print(f"leadflow: no CRM verdicts in the {extracted.count:,} histories: nothing to tune on", file=sys.stderr)
        return 1
    periods = Periods(extracted.first_at, split_at(anchors, extracted.last_at, holdout), extracted.last_at)
    with ShardPool(extracted.prospects, bounds.grid, periods.split, args.processes) as pool:
        result = tune(bounds, pool.evaluate, periods, settings, progress=lambda line: print(line, file=sys.stderr))
        view = _view(model, bounds, settings, result, pool, extracted.count, extracted.inputs,
                     len(extracted.prospects), args.holdout)
    if result.verdict == PROPOSED:
        assert result.stage2 is not None
        candidate = result.stage2
        out = args.out or f"{Path(source).stem}-tuned.yaml"
        version = version_for(model.version, candidate.points, candidate.threshold,
                              day(periods.end).replace("-", ""))
        changes = {name: (old, new) for name, old, new in zip(bounds.names, bounds.current, candidate.points)
                   if old != new}
        new_text = candidate_text(text, source, changes, (model.promote_threshold, candidate.threshold), version)
        _write(out, new_text)
        view = replace(view, diff=unified_diff(text, new_text, source, out), written=out)
    print(printable_lines(tune_text(view)))
    if view.written:
        print(printable(f"candidate written to {view.written}; preview the stage changes with: leadflow rescore "
                        f"--model {view.written}"))
        print(printable_lines(view.diff.rstrip("\n")))
    if args.html:
        _write(args.html, tune_html(view))
        print(printable(f"report written to {args.html}"), file=sys.stderr)
    return 0 if result.verdict == PROPOSED else 1


def _holdout(text: str) -> float | int:
    from streams.core.durations import parse_duration_ms

    if text.endswith("%"):
        share = percent(text, "--holdout")
        if not 0 < share < 1:
            raise UsageError(f"--holdout must be between 0% and 100%, got {text!r}")
        return share
    try:
        return parse_duration_ms(text)
    except ValueError as exc:
        raise UsageError(f"--holdout: {exc} (or a share such as 25%)") from None


def _view(model: ScoringModel, bounds: Space, settings: Settings, result: TuneResult, pool: ShardPool, prospects: int,
          inputs: int, candidates: int, holdout: str) -> TuneView:
    """The report's figures: both vectors over every threshold of the grid (both periods) and their histograms."""
    from leadflow.tuning_report import TuneView
    from streams.core.backtest import histogram_edges
    from streams.core.tuning import PROPOSED
    from streams.core.tuning_data import JUDGED, REJECTED_LEADS, WON_CENTS

    named = [("current", result.current)]
    final = result.stage2 or result.stage1
    if final is not None and (final.points, final.threshold) != (result.current.points, result.current.threshold):
        named.append(("candidate" if result.verdict == PROPOSED else "best found", final))
    sweeps = pool.evaluate([c.points for _, c in named])
    curves = []
    for (name, _), sweep in zip(named, sweeps):
        rates, values = [], []
        for index in range(len(bounds.grid)):
            judged = sweep.both(JUDGED, index)
            rates.append(sweep.both(REJECTED_LEADS, index) / judged if judged else None)
            values.append(sweep.both(WON_CENTS, index) / 100)
        curves.append((name, tuple(rates), tuple(values)))
    edges = histogram_edges(model.promote_threshold)
    histograms = []
    for name, candidate in named:
        won, rejected = pool.histograms(candidate.points, edges)
        histograms.append((f"{name}: threshold {candidate.threshold:g}", candidate.threshold, tuple(won),
                           tuple(rejected)))
    share = f"the newest {holdout} of judged prospects" if holdout.endswith("%") else f"the last {holdout}"
    return TuneView(model.version, prospects, inputs, candidates, bounds, settings, share, result, bounds.grid,
                    tuple(curves), edges, tuple(histograms))
