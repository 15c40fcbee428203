"""A prospect's score over time under a model, from its interactions alone: for backtests and tuning.

Why a replay of its own: ``prospect.apply`` keeps a ledger, a timeline, segments, automations
and SLA clocks, none of which a backtest needs, and a backtest replays every retained history
(a million prospects in the benchmark). This loop keeps only what the score needs and does the
same arithmetic as ``prospect._interaction`` (the same ``scoring.fired``, ``record``,
``add_behaviour`` and fit), so its scores are the worker's to the last bit (a test replays
random histories both ways).

Only interactions are replayed: verdicts are the outcome we measure against, not an input of
the score. Promotion needs a known person (an email) and happens at an interaction whose
score reaches the threshold; between interactions scores only decay, except where a negative
rule's points decay away, and that is seen at the next interaction too, which is where the
worker checks. So a prospect's first promotion at *any* threshold is a bisect in the list of
moments its running maximum rose (``Trajectory``).

The recycling verdicts do matter for what comes after a rejected lead: from a recycle on, the
worker scores the prospect with its behaviour reset, halved or kept (``recycle.score``) and
may promote it again. Which rules fire never depends on a recycle (it scales points, not
counts), so the same pass keeps, for each recycle time it is given, the scores of the
prospect recycled then (``Trajectory.after``: its own running maxima from there on), with the
worker's arithmetic. Each is the worker's score when that recycle is the only one or the
policy is ``reset`` or ``keep``; under ``halve``, an earlier recycle's halving of what was
left is not compounded.

Tuning needs more: the score at each of those moments as a function of the points. Which
rules fire depends on counts (once-only, caps), never on points, so the score is linear in
the points: ``fit + sum_r points_r * decayed_activations_r(t)``. ``feature_points`` gives,
at each interaction of a known prospect, each rule's decayed activation sum and the fit rules
that hold (``Features``), so a candidate point vector is scored with a dot product instead
of a replay.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Iterable, Sequence

from schemas.records import Interaction
from streams.core import scoring
from streams.core.decay import decay_factor
from streams.core.identity import resolution
from streams.core.model import RECYCLE_FACTORS, Rule, ScoringModel
from streams.core.scoring import DecayingSum, RuleTally


@dataclass(frozen=True, slots=True)
class Trajectory:
    """The moments a prospect's score (while known) reached a new high: ``maxima`` rise, ``times`` with them;
    ``after``: one per recycle time asked for, the same from that recycle on, the prospect recycled then."""

    first_touch: int | None  # its first interaction, known or not
    times: tuple[int, ...]
    maxima: tuple[float, ...]
    after: tuple["Trajectory", ...] = ()

    def promoted_at(self, threshold: float) -> int | None:
        """When a model with this promotion threshold first promotes it (None: never)."""
        index = bisect.bisect_left(self.maxima, threshold)
        return self.times[index] if index < len(self.maxima) else None

    def peak_until(self, at: int) -> float:
        """Its highest score up to ``at`` (0.0 before anything scored)."""
        index = bisect.bisect_right(self.times, at)
        return self.maxima[index - 1] if index else 0.0


class _Score:
    """A prospect's behaviour score as the worker keeps it (its decaying sums, at its clock) and the moments it
    reached a new high while known: the plain one, and one per recycle (``trajectory``)."""

    __slots__ = ("sums", "behaviour", "clock", "best", "times", "maxima")

    def __init__(self, sums: dict[int | None, DecayingSum], clock: int) -> None:
        self.sums = sums
        self.clock = clock
        self.behaviour = scoring.behaviour(sums, clock) if sums else 0.0
        self.best = float("-inf")
        self.times: list[int] = []
        self.maxima: list[float] = []

    def recycled(self, at: int, factor: float) -> "_Score":
        """This score recycled at ``at``, as the worker's verdict then recycle: the clock moves to the verdict,
        every decaying sum is scaled."""
        return _Score({half_life: DecayingSum(s.value * factor, s.as_of) for half_life, s in self.sums.items()},
                      at if at > self.clock else self.clock)

    def step(self, rules: list[Rule], at: int, fit: float, known: bool) -> None:
        """The rules an interaction at ``at`` fired, as ``prospect._interaction`` adds them."""
        previous = self.clock
        clock = self.clock = at if at > previous else previous
        after = scoring.behaviour(self.sums, clock) if clock != previous else self.behaviour
        for rule in rules:
            scoring.add_behaviour(self.sums, rule, at)
            after += rule.points if at == clock else rule.points * decay_factor(clock - at, rule.half_life_ms)
        self.behaviour = after
        total = fit + after
        if known and total > self.best:
            self.best = total
            self.times.append(at)
            self.maxima.append(total)

    def trajectory(self, first_touch: int | None, after: tuple[Trajectory, ...] = ()) -> Trajectory:
        return Trajectory(first_touch, tuple(self.times), tuple(self.maxima), after)


def trajectory(key: str, interactions: Iterable[Interaction], model: ScoringModel,
               counts: dict[str, int] | None = None, recycles: Sequence[int] = ()) -> Trajectory:
    """The score trajectory of these interactions (canonical order) under ``model``, and after each of the
    ``recycles`` (ascending times; interactions after one are scored recycled); when ``counts`` is given, each
    rule's activations are added to it."""
    tallies: dict[str, RuleTally] = {}
    profile: dict[str, str] = {}
    seen: set[str] = set()
    fit = 0.0
    known = False
    first_touch: int | None = None
    plain = _Score({}, 0)
    scores = [plain]
    waiting = len(recycles)
    next_recycle = recycles[0] if waiting else None
    for event in interactions:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        if _links_away(key, event):
            break  # from here on its activity belongs to the more resolved key
        at = event.occurred_at
        if first_touch is None:
            first_touch = at
        while next_recycle is not None and at > next_recycle:
            scores.append(plain.recycled(next_recycle, RECYCLE_FACTORS[model.recycle_policy]))
            next_recycle = recycles[len(scores) - 1] if len(scores) <= waiting else None
        rules = scoring.fired(tallies, event, model)
        for rule in rules:
            scoring.record(tallies, rule, at)
            if counts is not None:
                counts[rule.id] = counts.get(rule.id, 0) + 1
        if event.traits:
            profile.update(event.traits)
            fit = scoring.fit(profile, model)[0]
        known = known or event.prospect_id is not None
        for score in scores:
            score.step(rules, at, fit, known)
    if not waiting:
        return plain.trajectory(first_touch)
    after = [score.trajectory(None) for score in scores[1:]]
    after += [Trajectory(None, (), ())] * (waiting - len(after))  # recycles after its last interaction
    return plain.trajectory(first_touch, tuple(after))


def _links_away(key: str, event: Interaction) -> bool:
    """An ``identity.linked`` event that makes this key an alias of a more resolved one (as ``apply`` does)."""
    return event.type == "identity.linked" and bool(event.prospect_id) and \
        resolution(event.prospect_id) > resolution(key)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Parameters:
    """The numbers a tuner may change, in a fixed order: behaviour rules (model order), then fit rules as
    ``fit:<id>``. ``signs`` are the current points' signs (0: a rule at 0 points, left out of features)."""

    names: tuple[str, ...]
    points: tuple[float, ...]

    @staticmethod
    def of(model: ScoringModel) -> "Parameters":
        return Parameters(tuple([r.id for r in model.rules] + [f"fit:{f.id}" for f in model.fit_rules]),
                          tuple([r.points for r in model.rules] + [f.points for f in model.fit_rules]))

    def signs(self) -> tuple[int, ...]:
        return tuple((p > 0) - (p < 0) for p in self.points)


Sparse = tuple[tuple[int, float], ...]  # (parameter index, value), indices ascending


@dataclass(frozen=True, slots=True)
class Features:
    """A known prospect's score at each of its interactions, as linear features of the parameters; points
    no candidate could make a first promotion (dominated by the one before) are left out. ``after``: the same
    from each recycle asked for on, the prospect recycled then (as ``Trajectory.after``)."""

    times: tuple[int, ...]
    values: tuple[Sparse, ...]
    after: tuple["Features", ...] = ()

    def scores(self, points: Sequence[float]) -> list[float]:
        return [sum(points[i] * v for i, v in row) for row in self.values]


class _Rows:
    """Per rule, its activations (one point each) decayed, and the feature rows kept: the plain prospect's or
    the recycled one's (``feature_points``)."""

    __slots__ = ("units", "times", "values")

    def __init__(self, units: dict[int, DecayingSum]) -> None:
        self.units = units
        self.times: list[int] = []
        self.values: list[Sparse] = []

    def recycled(self, factor: float) -> "_Rows":
        return _Rows({i: DecayingSum(unit.value * factor, unit.as_of) for i, unit in self.units.items()})

    def add(self, index: int, at: int, clock: int, half_life_ms: int | None) -> None:
        unit = self.units.get(index)
        if unit is None:
            self.units[index] = DecayingSum(decay_factor(clock - at, half_life_ms), clock)
        else:
            unit.add(1.0, at, half_life_ms)

    def keep(self, at: int, clock: int, half_lives: Sequence[int | None], fit_rows: Sparse,
             signs: Sequence[int]) -> None:
        row = tuple(sorted([(i, unit.at(clock, half_lives[i])) for i, unit in self.units.items() if signs[i]]
                           + list(fit_rows)))
        if self.values and _dominated(row, self.values[-1], signs):
            return
        self.times.append(at)
        self.values.append(row)

    def features(self, after: tuple[Features, ...] = ()) -> Features:
        return Features(tuple(self.times), tuple(self.values), after)


def feature_points(key: str, interactions: Iterable[Interaction], model: ScoringModel,
                   signs: Sequence[int], recycles: Sequence[int] = ()) -> Features:
    """Features at each interaction of a known prospect, and after each of the ``recycles``; ``signs`` (per
    parameter, as ``Parameters``) let a point dominated by the previous kept one go: with every sign kept, it can
    never be a first crossing."""
    rule_index = {rule.id: i for i, rule in enumerate(model.rules)}
    fit_base = len(model.rules)
    tallies: dict[str, RuleTally] = {}
    half_lives = [rule.half_life_ms for rule in model.rules]
    profile: dict[str, str] = {}
    seen: set[str] = set()
    fit_rows: Sparse = ()
    known = False
    clock = 0
    plain = _Rows({})
    branches: list[_Rows] = []
    for event in interactions:
        if event.event_id in seen:
            continue
        seen.add(event.event_id)
        if _links_away(key, event):
            break
        at = event.occurred_at
        while len(branches) < len(recycles) and at > recycles[len(branches)]:
            branches.append(plain.recycled(RECYCLE_FACTORS[model.recycle_policy]))
        clock = at if at > clock else clock
        for rule in scoring.fired(tallies, event, model):
            scoring.record(tallies, rule, at)
            index = rule_index[rule.id]
            plain.add(index, at, clock, rule.half_life_ms)
            for branch in branches:
                branch.add(index, at, clock, rule.half_life_ms)
        if event.traits:
            profile.update(event.traits)
            matched = {rule.id for rule in model.fit_rules if rule.condition.matches(profile)}
            fit_rows = tuple((fit_base + i, 1.0) for i, rule in enumerate(model.fit_rules)
                             if rule.id in matched and signs[fit_base + i])
        known = known or event.prospect_id is not None
        if not known:
            continue
        plain.keep(at, clock, half_lives, fit_rows, signs)
        for branch in branches:
            branch.keep(at, clock, half_lives, fit_rows, signs)
    branches += [_Rows({}) for _ in range(len(recycles) - len(branches))]
    return plain.features(tuple(branch.features() for branch in branches))


def _dominated(row: Sparse, kept: Sparse, signs: Sequence[int]) -> bool:
    """Every term of ``row`` is no better than ``kept``'s for any points of the same signs."""
    mine = dict(row)
    theirs = dict(kept)
    for index in mine.keys() | theirs.keys():
        if signs[index] * (mine.get(index, 0.0) - theirs.get(index, 0.0)) > 0:
            return False
    return True


def ceiling(features: Features, highs: Sequence[float]) -> float:
    """The highest score any candidate within bounds could give this prospect: features are never negative,
    so it is each parameter at its upper bound (for a negative rule, the bound nearest zero)."""
    return max((sum(v * highs[i] for i, v in row) for row in features.values), default=float("-inf"))
