"""`leadflow tune`: two-stage search for rule points and a threshold, fitted on older outcomes.

Stage 1 minimizes the reject rate (rejected / judged) of the leads sent to sales while
sending at least ``min_leads`` per month or week (sales' capacity); stage 2, starting there,
maximizes the won deal value among candidates whose reject rate stays within ``tolerance``
of stage 1's best (and never above the current model's). Both are judged on the in-sample
period only; the newest period (``Periods.split`` on) is held out and only reported.

Why coordinate descent on a grid: the objective is a step function of integer points (counts
of leads), so gradients mean nothing; one parameter at a time over a coarse grid, then finer
steps around the best, evaluates each batch of a parameter's values in one pass over the
prospects (``Shard.evaluate``) and is deterministic: values in ascending order, parameters in
model order, and a move only on a strict improvement, so ties keep the earlier candidate.

Guards, each stated in the output:
- a candidate may not raise the share of outcome-unknown leads by more than ``unknown_slack``
  over the current model's: otherwise "send leads sales never judged instead of the ones they
  rejected" would look like a lower reject rate (the selective-labels trap);
- no candidate is proposed when the held-out period holds fewer than ``min_judged`` judged
  leads or ``min_won`` won deals (under the current model, and again under the candidate):
  the output says how many more outcomes it needs;
- a candidate equal to the current model, or worse than it on the held-out period, is
  reported as such and never written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from streams.core.lead_figures import LeadFigures
from streams.core.tuning_data import (ACCEPTED, HELD_OUT, IN_SAMPLE, JUDGED, LEADS, OPEN_LEADS, REJECTED_LEADS,
                                      UNKNOWN, WON_CENTS, WON_LEADS, Space, Sweep)

DAY_MS = 86_400_000
PERIODS_MS = {"month": round(30.4375 * DAY_MS), "week": 7 * DAY_MS}
MAX_PASSES = 8
COARSE_STEPS = 8  # the first pass tries each parameter at about this many values across its range

Evaluate = Callable[[Sequence[Sequence[float]]], list[Sweep]]
Progress = Callable[[str], None]

PROPOSED, REFUSED, UNCHANGED, NOT_BETTER, INFEASIBLE = "proposed", "refused", "unchanged", "not better", "infeasible"


@dataclass(frozen=True, slots=True)
class Settings:
    min_leads: float  # sales' capacity: at least this many leads per ``per``
    per: str = "month"
    tolerance: float = 0.02  # stage 2: reject rate at most stage 1's best plus this
    min_judged: int = 30  # held-out judged leads needed to propose anything
    min_won: int = 5  # held-out won deals needed to propose anything
    unknown_slack: float = 0.10  # outcome-unknown share at most the current model's plus this

    @property
    def per_ms(self) -> int:
        return PERIODS_MS[self.per]


@dataclass(frozen=True, slots=True)
class Periods:
    """In-sample is [start, split), held-out [split, end]: by first verdict, or promotion for the unjudged."""

    start: int
    split: int
    end: int

    def length_ms(self, period: int) -> int:
        return max(self.split - self.start, 1) if period == IN_SAMPLE else max(self.end - self.split, 1)


def split_at(anchors: Sequence[int], end: int, holdout: float | int) -> int:
    """Where the held-out period starts: the newest ``holdout`` share of judged prospects by first verdict
    (a float below 1), or the last ``holdout`` milliseconds (an int)."""
    if isinstance(holdout, int):
        return end - holdout
    ordered = sorted(anchors)
    index = math.ceil(len(ordered) * (1 - holdout))
    return ordered[index] if index < len(ordered) else end + 1


def figures(sweep: Sweep, period: int, index: int, grid: Sequence[float], periods: Periods,
            settings: Settings) -> LeadFigures:
    def at(category: int) -> int:
        return sweep.at(period, category, index)

    return LeadFigures(grid[index], at(LEADS), at(JUDGED), at(ACCEPTED), at(REJECTED_LEADS), at(WON_LEADS),
                       at(OPEN_LEADS), at(UNKNOWN), at(WON_CENTS) / 100,
                       periods=periods.length_ms(period) / settings.per_ms)


@dataclass(frozen=True, slots=True)
class Candidate:
    points: tuple[float, ...]
    threshold: float
    in_sample: LeadFigures
    held_out: LeadFigures


@dataclass(frozen=True, slots=True)
class TuneResult:
    verdict: str  # PROPOSED, REFUSED, UNCHANGED, NOT_BETTER or INFEASIBLE
    message: str
    periods: Periods
    current: Candidate
    stage1: Candidate | None = None
    stage2: Candidate | None = None
    evaluations: int = 0

    @property
    def candidate(self) -> Candidate | None:
        return self.stage2 if self.verdict == PROPOSED else None


class _Search:
    """One tuning run's state: the bounds, the evaluation function, and the counts for progress."""

    def __init__(self, bounds: Space, evaluate: Evaluate, periods: Periods, settings: Settings,
                 progress: Progress | None) -> None:
        self.bounds, self.evaluate_batch, self.periods, self.settings = bounds, evaluate, periods, settings
        self.progress = progress
        self.evaluations = 0
        self.grid = bounds.grid
        self.current_index = self.grid.index(bounds.threshold)
        self.needed = settings.min_leads * periods.length_ms(IN_SAMPLE) / settings.per_ms  # in-sample leads

    def evaluate(self, vectors: Sequence[Sequence[float]]) -> list[Sweep]:
        self.evaluations += len(vectors)
        return self.evaluate_batch(vectors)

    def candidate(self, vector: Sequence[float], index: int, sweep: Sweep) -> Candidate:
        return Candidate(tuple(vector), self.grid[index],
                         figures(sweep, IN_SAMPLE, index, self.grid, self.periods, self.settings),
                         figures(sweep, HELD_OUT, index, self.grid, self.periods, self.settings))

    def choose(self, sweep: Sweep, stage: int, ceiling: float, max_unknown: float) -> tuple[tuple, int]:
        """The best threshold for this vector and its sort key (lower is better); an infeasible vector's key
        starts with 1 and ranks by how far it is from the capacity."""
        best: tuple | None = None
        best_index = self.current_index
        most = 0
        for index, threshold in enumerate(self.grid):
            leads = sweep.at(IN_SAMPLE, LEADS, index)
            judged = sweep.at(IN_SAMPLE, JUDGED, index)
            most = max(most, leads)
            if leads < self.needed or not judged or sweep.at(IN_SAMPLE, UNKNOWN, index) > max_unknown * leads:
                continue
            rate = sweep.at(IN_SAMPLE, REJECTED_LEADS, index) / judged
            value = sweep.at(IN_SAMPLE, WON_CENTS, index)
            distance = abs(threshold - self.bounds.threshold)
            if stage == 1:
                key = (0, rate, -value, distance, threshold)
            elif rate <= ceiling + 1e-12:
                key = (0, -value, rate, distance, threshold)
            else:
                continue
            if best is None or key < best:
                best, best_index = key, index
        if best is None:
            return (1, self.needed - most), self.current_index
        return best, best_index

    def descend(self, start: tuple[float, ...], stage: int, ceiling: float = 1.0,
                max_unknown: float = 1.0) -> tuple[tuple[float, ...], int, tuple, Sweep]:
        """Coordinate descent from ``start``: coarse grids, then steps halving down to one point."""
        best = start
        sweep = self.evaluate([best])[0]
        best_key, best_index = self.choose(sweep, stage, ceiling, max_unknown)
        best_sweep = sweep
        tunable = self.bounds.tunable()
        steps = {j: max(1, math.ceil((self.bounds.highs[j] - self.bounds.lows[j]) / COARSE_STEPS)) for j in tunable}
        coarse = True
        for passes in range(1, MAX_PASSES + 1):
            moved = False
            for j in tunable:
                values = self._values(j, best[j], steps[j], coarse)
                if not values:
                    continue
                vectors = [best[:j] + (float(v),) + best[j + 1:] for v in values]
                for vector, candidate_sweep in zip(vectors, self.evaluate(vectors)):
                    key, index = self.choose(candidate_sweep, stage, ceiling, max_unknown)
                    if key < best_key:
                        best, best_key, best_index, best_sweep, moved = vector, key, index, candidate_sweep, True
            if self.progress:
                self.progress(f"stage {stage}: pass {passes}, {self.evaluations:,} candidates evaluated, "
                              f"{_describe(best_key, stage)}")
            coarse = False
            if not moved:
                if all(step == 1 for step in steps.values()):
                    break
                steps = {j: max(1, step // 2) for j, step in steps.items()}
        return best, best_index, best_key, best_sweep

    def _values(self, j: int, current: float, step: int, coarse: bool) -> list[int]:
        low, high = math.ceil(self.bounds.lows[j]), math.floor(self.bounds.highs[j])
        if coarse:
            values = set(range(low, high + 1, step)) | {high}
        else:
            centre = round(current)
            values = {centre + k * step for k in (-2, -1, 1, 2)} | {centre}
        return sorted(v for v in values if low <= v <= high and v != current)


def _describe(key: tuple, stage: int) -> str:
    if key[0] == 1:
        return f"short of the capacity by {key[1]:,.0f} leads"
    return f"reject rate {key[1]:.1%}" if stage == 1 else f"won value {-key[1] / 100:,.0f}"


def tune(bounds: Space, evaluate: Evaluate, periods: Periods, settings: Settings,
         progress: Progress | None = None) -> TuneResult:
    """Both stages and the verdict on the result; ``evaluate`` scores a batch of vectors over ``bounds.grid``."""
    search = _Search(bounds, evaluate, periods, settings, progress)
    baseline = search.evaluate([bounds.current])[0]
    current = search.candidate(bounds.current, search.current_index, baseline)
    short = _shortfall(current.held_out, settings)
    if any(short):
        return TuneResult(REFUSED, _refusal("the held-out period", "under the current model", current.held_out,
                                            settings, short), periods, current, evaluations=search.evaluations)
    max_unknown = min(1.0, current.in_sample.unknown_share + settings.unknown_slack)
    first, first_index, first_key, first_sweep = search.descend(bounds.current, 1, max_unknown=max_unknown)
    stage1 = search.candidate(first, first_index, first_sweep)
    if first_key[0] == 1:
        return TuneResult(INFEASIBLE, f"no candidate within the bounds sends {settings.min_leads:g} leads a "
                          f"{settings.per} in the in-sample period (at most "
                          f"{(search.needed - first_key[1]) / stage1.in_sample.periods:,.1f}); lower --min-leads or "
                          f"raise --max-change", periods, current, stage1, evaluations=search.evaluations)
    ceiling = first_key[1] + settings.tolerance
    if current.in_sample.reject_rate is not None:  # never above the current model's, unless stage 1 had to be
        ceiling = max(first_key[1], min(ceiling, current.in_sample.reject_rate))
    second, second_index, _, second_sweep = search.descend(first, 2, ceiling, max_unknown)
    stage2 = search.candidate(second, second_index, second_sweep)

    def result(verdict: str, message: str) -> TuneResult:
        return TuneResult(verdict, message, periods, current, stage1, stage2, search.evaluations)

    if tuple(second) == tuple(bounds.current) and stage2.threshold == bounds.threshold:
        return result(UNCHANGED, "the tuner found no change within the bounds that does better on the in-sample "
                      "period: the model stays as it is, no candidate written")
    short = _shortfall(stage2.held_out, settings)
    if any(short):
        return result(REFUSED, _refusal("the held-out period", "under the candidate", stage2.held_out, settings,
                                        short))
    if not _better(stage2.held_out, current.held_out):
        return result(NOT_BETTER, "the candidate does better in-sample but not on the held-out period (reject rate "
                      f"{_rate(stage2.held_out)} vs {_rate(current.held_out)} now): not proposed, no candidate written")
    return result(PROPOSED, f"candidate proposed: held-out reject rate {_rate(current.held_out)} -> "
                  f"{_rate(stage2.held_out)}, won value {current.held_out.won_value:,.0f} -> "
                  f"{stage2.held_out.won_value:,.0f}")


def _better(candidate: LeadFigures, current: LeadFigures) -> bool:
    mine, theirs = candidate.reject_rate, current.reject_rate
    if mine is None or theirs is None:
        return False
    return mine < theirs - 1e-12 or (abs(mine - theirs) <= 1e-12 and candidate.won_value > current.won_value)


def _rate(figures_: LeadFigures) -> str:
    rate = figures_.reject_rate
    return "-" if rate is None else f"{rate:.1%}"


def _shortfall(held_out: LeadFigures, settings: Settings) -> tuple[int, int]:
    """How many more judged leads and won deals the held-out period needs (0, 0: enough)."""
    return max(0, settings.min_judged - held_out.judged), max(0, settings.min_won - held_out.won)


def _refusal(where: str, under: str, held_out: LeadFigures, settings: Settings, short: tuple[int, int]) -> str:
    judged, won = short
    needs = " and ".join(part for part in (f"{judged} more judged lead{'s' * (judged != 1)}" if judged else "",
                                           f"{won} more won deal{'s' * (won != 1)}" if won else "") if part)
    pace = ""
    rates = [(need, have / held_out.periods) for need, have in ((judged, held_out.judged), (won, held_out.won)) if need]
    if all(rate > 0 for _, rate in rates):
        more = max(need / rate for need, rate in rates)
        pace = f" (about {math.ceil(more)} more {settings.per}{'s' * (math.ceil(more) != 1)} of outcomes at its pace)"
    return (f"refusing to propose a model: {where} holds {held_out.judged} judged lead"
            f"{'s' * (held_out.judged != 1)} and {held_out.won} won deal{'s' * (held_out.won != 1)} {under}; "
            f"the rule is at least {settings.min_judged} judged leads and {settings.min_won} won deals there: "
            f"{needs} needed{pace}")
