"""What the tuner searches over, and how a candidate point vector is scored without a replay.

Why: a search tries hundreds of point vectors; replaying every history for each would take
hours. A prospect's score is linear in the points (``trajectory.feature_points``), so each
prospect is reduced once to its feature rows, the episodes sales judged and the period it
belongs to (``TuningProspect``), and a ``Shard`` of them scores a batch of vectors for every
threshold of the grid at once: per prospect, the running maximum of its scores says from
which threshold down it is a lead and when it was promoted, and that interval of the grid
gets its outcome (difference arrays, one pass). A rejected lead is recycled and may be
promoted again (``outcomes.claim``): the thresholds of that interval continue, in the same
way, in the prospect's rows after that recycle (``TuningProspect.after``), which take the
next episode. Shards are what the shell's processes hold.

Periods: the tuner fits on older outcomes and reports on the newest (``split``). A prospect
sales judged belongs to the period of its first verdict, whatever a candidate does with it,
so no candidate can move a known outcome from one period to the other; a prospect sales
never judged belongs to the period of its promotion (it has no outcome to leak).

Deal values are counted in whole cents, so sums are exact and a search never depends on the
order in which shards were added up.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from streams.core.backtest import split_inputs
from streams.core.history import Input
from streams.core.model import ScoringModel
from streams.core.outcomes import REJECTED, WON, Episode, claim, closing, episodes, recycles
from streams.core.trajectory import Parameters, Sparse, ceiling, feature_points

EPS = 1e-9  # scores from features differ from a replay's in the last bits: a tie with a threshold still counts
LEADS, JUDGED, ACCEPTED, REJECTED_LEADS, WON_LEADS, OPEN_LEADS, UNKNOWN, WON_CENTS = range(8)
CATEGORIES = 8
IN_SAMPLE, HELD_OUT = 0, 1


class SpaceError(ValueError):
    """A --freeze or --max-change the model cannot take; the message says what would."""


@dataclass(frozen=True, slots=True)
class Space:
    """The parameters (behaviour rules, then fit rules as ``fit:<id>``), their bounds, and the threshold grid."""

    names: tuple[str, ...]
    current: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    threshold: float
    grid: tuple[float, ...]  # whole-number thresholds within bounds, and the current one
    max_change: float
    frozen: tuple[str, ...]

    def tunable(self) -> list[int]:
        return [i for i in range(len(self.names)) if self.lows[i] != self.highs[i]]

    def signs(self) -> tuple[int, ...]:
        return tuple((p > 0) - (p < 0) for p in self.current)


def space(model: ScoringModel, freeze: Iterable[str] = (), max_change: float = 0.5) -> Space:
    """Each rule's points may move by ``max_change`` of their size (whole numbers, signs kept, never to 0); a
    rule at 0 points and the frozen ones stay; the threshold moves within the same share."""
    if not 0 < max_change <= 10:
        raise SpaceError(f"--max-change must be between 0% and 1000%, got {max_change:.0%}")
    params = Parameters.of(model)
    names = params.names
    fit_ids = {name[4:]: name for name in names if name.startswith("fit:")}
    frozen: list[str] = []
    for wanted in freeze:
        name = wanted if wanted in names else fit_ids.get(wanted)
        if name is None:
            raise SpaceError(f"--freeze {wanted}: the model has no such rule; its rules: {', '.join(names)}")
        frozen.append(name)
    lows, highs = [], []
    for name, points in zip(names, params.points):
        low = high = points
        if points != 0 and name not in frozen:
            size = abs(points)
            smallest = max(1, math.ceil(size * (1 - max_change) - EPS))
            largest = math.floor(size * (1 + max_change) + EPS)
            if smallest <= largest:
                low, high = (smallest, largest) if points > 0 else (-largest, -smallest)
                low, high = min(low, points), max(high, points)
        lows.append(float(low))
        highs.append(float(high))
    base = model.promote_threshold
    bottom = max(1, math.ceil(base * (1 - max_change) - EPS))
    top = max(bottom, math.floor(base * (1 + max_change) + EPS))
    grid = tuple(sorted({float(t) for t in range(bottom, top + 1)} | {base}))
    return Space(names, params.points, tuple(lows), tuple(highs), base, grid, max_change, tuple(frozen))


@dataclass(frozen=True, slots=True)
class TuningProspect:
    """One prospect as the tuner sees it: feature rows, the episodes sales judged, its first verdict, and the
    feature rows after each recycle (``recycles`` of its episodes), as ``(times, rows)``."""

    times: tuple[int, ...]
    rows: tuple[Sparse, ...]
    episodes: tuple[Episode, ...]
    anchor: int | None  # its first verdict: the period a judged prospect belongs to
    indices: frozenset[int]  # the parameters it has features for
    after: tuple[tuple[tuple[int, ...], tuple[Sparse, ...]], ...] = ()
    reach: tuple[float, ...] = ()  # per recycle: the highest score a candidate within bounds could give after it

    def scores(self, points: Sequence[float]) -> list[float]:
        return [sum(points[i] * v for i, v in row) for row in self.rows]


def extract(key: str, inputs: Sequence[Input], model: ScoringModel, bounds: Space) -> TuningProspect | None:
    """The prospect reduced for tuning, or None when it cannot matter: never a known person, or sales never
    judged it and no candidate within bounds could make it a lead."""
    interactions, verdicts = split_inputs(inputs)
    judged = episodes(verdicts)
    features = feature_points(key, interactions, model, bounds.signs(), recycles(judged) if judged else ())
    if not features.times or (not judged and ceiling(features, bounds.highs) + EPS < bounds.grid[0]):
        return None
    indices = frozenset(i for f in (features, *features.after) for row in f.values for i, _ in row)
    return TuningProspect(features.times, features.values, judged, judged[0].judged_at if judged else None,
                          indices, tuple((f.times, f.values) for f in features.after),
                          tuple(ceiling(f, bounds.highs) for f in features.after))


@dataclass(frozen=True, slots=True)
class Sweep:
    """Counts per period, category and threshold of the grid for one point vector (``values`` flattened)."""

    size: int  # thresholds in the grid
    values: tuple[int, ...]

    def at(self, period: int, category: int, index: int) -> int:
        return self.values[(period * CATEGORIES + category) * self.size + index]

    def both(self, category: int, index: int) -> int:
        return self.at(IN_SAMPLE, category, index) + self.at(HELD_OUT, category, index)

    def plus(self, other: "Sweep") -> "Sweep":
        return Sweep(self.size, tuple(a + b for a, b in zip(self.values, other.values)))


Outcome = tuple[tuple[int, int], ...]  # what a promotion adds: (difference-array row offset, amount)
Segment = tuple[tuple[Outcome, int], ...]  # per point: its outcome, and the segment a next lead comes from (0: none)


class Shard:
    """Tuning prospects that score batches of point vectors over the threshold grid."""

    def __init__(self, prospects: Sequence[TuningProspect], grid: Sequence[float], split: int) -> None:
        self.prospects = list(prospects)
        self.grid = tuple(grid)
        self.split = split
        stride = len(self.grid) + 1
        shared: dict[tuple, Outcome] = {}
        # per prospect, segment (0: from its start, r + 1: after its r-th recycle) and point: what a promotion there
        # adds and where its successor comes from; computed once
        self.outcomes = [self._segments(p, stride, shared) for p in self.prospects]

    def _segments(self, prospect: TuningProspect, stride: int, shared: dict[tuple, Outcome]) -> tuple[Segment, ...]:
        firsts = [0] + [k + 1 for k, e in enumerate(prospect.episodes) if e.result == REJECTED]
        times = [prospect.times] + [t for t, _ in prospect.after]
        return tuple(tuple(self._outcome(prospect, at, first, stride, shared) for at in points)
                     for first, points in zip(firsts, times))

    def _outcome(self, prospect: TuningProspect, promoted: int, first: int, stride: int,
                 shared: dict[tuple, Outcome]) -> tuple[Outcome, int]:
        claimed = claim(prospect.episodes, promoted, first)
        episode = claimed.episode
        anchor = prospect.anchor if prospect.anchor is not None else promoted
        base = (HELD_OUT if anchor >= self.split else IN_SAMPLE) * CATEGORIES
        if episode is None:
            counts = [(LEADS, 1), (UNKNOWN, 1)]
        else:
            counts = [(LEADS, 1), (JUDGED, 1)] + ([(ACCEPTED, 1)] if episode.accepted else [])
            if episode.result == WON:
                counts += [(WON_LEADS, 1), (WON_CENTS, round(episode.value * 100))]
            else:
                counts.append((REJECTED_LEADS if episode.result == REJECTED else OPEN_LEADS, 1))
        contribution = tuple(((base + category) * stride, amount) for category, amount in counts)
        return shared.setdefault(contribution, contribution), 0 if claimed.restart is None else claimed.restart + 1

    def evaluate(self, vectors: Sequence[Sequence[float]]) -> list[Sweep]:
        """A sweep per vector. Vectors that differ in one parameter only (a search step) share the work of
        every prospect that has no feature for it."""
        stride = len(self.grid) + 1
        size = 2 * CATEGORIES * stride
        diffs = [[0] * size for _ in vectors]
        first = vectors[0]
        varying = {i for vector in vectors[1:] for i, p in enumerate(vector) if p != first[i]}
        credit = self._credit
        if len(vectors) > 1 and len(varying) == 1:
            (j,) = varying
            common = [0] * size
            for prospect, segments in zip(self.prospects, self.outcomes):
                if j not in prospect.indices:
                    credit(prospect, segments, prospect.scores(first), first, common)
                    continue
                base = [sum(first[i] * v for i, v in row if i != j) for row in prospect.rows]
                own = [next((v for i, v in row if i == j), 0.0) for row in prospect.rows]
                for vector, diff in zip(vectors, diffs):
                    weight = vector[j]
                    credit(prospect, segments, [b + weight * x for b, x in zip(base, own)], vector, diff)
            diffs = [[a + b for a, b in zip(diff, common)] for diff in diffs]
        else:
            for prospect, segments in zip(self.prospects, self.outcomes):
                for vector, diff in zip(vectors, diffs):
                    credit(prospect, segments, prospect.scores(vector), vector, diff)
        return [self._sweep(diff, stride) for diff in diffs]

    def _credit(self, prospect: TuningProspect, segments: tuple[Segment, ...], scores: Iterable[float],
                vector: Sequence[float], diff: list[int], segment: int = 0, low: int = 0, high: int = 0) -> None:
        """Each time the prospect's running maximum passes more thresholds of the grid (from ``low`` to ``high``,
        exclusive; 0: to the end), those thresholds promote it then: their interval of the grid gets that
        promotion's outcome, and, when sales' verdict recycled it, goes on in the segment after the recycle
        (adjacent intervals going on in the same segment together, its scores computed only as far as needed; not
        at all where no candidate within bounds reaches the interval's thresholds again)."""
        grid, reached, reach = self.grid, low - 1, prospect.reach
        last = (high or len(grid)) - 1
        going_on: list[list[int]] = []  # [segment, start, end]
        for (outcome, follow), score in zip(segments[segment], scores):
            top = bisect.bisect_right(grid, score + EPS) - 1
            if top > reached:
                if top > last:
                    top = last
                start, end = reached + 1, top + 1
                for offset, amount in outcome:
                    diff[offset + start] += amount
                    diff[offset + end] -= amount
                if follow and reach[follow - 1] + EPS >= grid[start]:  # else no candidate promotes it again
                    if going_on and going_on[-1][0] == follow and going_on[-1][2] == start:
                        going_on[-1][2] = end
                    else:
                        going_on.append([follow, start, end])
                if top == last:
                    break
                reached = top
        for follow, start, end in going_on:
            rows = prospect.after[follow - 1][1]
            self._credit(prospect, segments, (sum(vector[i] * v for i, v in row) for row in rows), vector, diff,
                         follow, start, end)

    def _sweep(self, diff: list[int], stride: int) -> Sweep:
        size = len(self.grid)
        values: list[int] = []
        for row in range(2 * CATEGORIES):
            running = 0
            for index in range(size):
                running += diff[row * stride + index]
                values.append(running)
        return Sweep(size, tuple(values))

    def histograms(self, vector: Sequence[float], edges: Sequence[float]) -> tuple[list[int], list[int]]:
        """Won and rejected prospects (their first closed episode) by their highest score up to its close."""
        won, rejected = [0] * (len(edges) - 1), [0] * (len(edges) - 1)
        width = edges[1] - edges[0]
        for prospect in self.prospects:
            closed = closing(prospect.episodes) if prospect.episodes else None
            if closed is None:
                continue
            peak = max((score for at, score in zip(prospect.times, prospect.scores(vector))
                        if at <= closed.ended_at), default=0.0)  # type: ignore[operator]
            target = won if closed.result == WON else rejected
            target[min(max(int(peak // width), 0), len(edges) - 2)] += 1
        return won, rejected
