"""Behaviour and fit scoring: decaying sums in event time, with once-only rules and caps.

A decaying sum keeps points as of the newest time it saw; its value at any later time
is that value decayed by the half-life. Adding points at an earlier time (an
out-of-order event) decays them to the sum's time first, so the arithmetic is the same
whatever order events arrive in. Each rule keeps its own sum (for caps, once-only rules,
dimensions and explanations), and the behaviour score keeps one sum per distinct
half-life, so the total costs a handful of multiplications however many rules fired.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Mapping

from schemas.records import Interaction
from streams.core.decay import decay_factor
from streams.core.model import Rule, ScoringModel


@dataclass(slots=True)
class DecayingSum:
    value: float
    as_of: int

    def at(self, now: int, half_life_ms: int | None) -> float:
        return self.value * decay_factor(now - self.as_of, half_life_ms)

    def add(self, points: float, at: int, half_life_ms: int | None) -> None:
        elapsed = at - self.as_of
        if elapsed >= 0:  # decay_factor inlined: this runs for every scored event
            if half_life_ms and elapsed:
                self.value *= 0.5 ** (elapsed / half_life_ms)
            self.value += points
            self.as_of = at
        else:
            self.value += points * decay_factor(self.as_of - at, half_life_ms)


@dataclass(slots=True)
class RuleTally(DecayingSum):
    activations: int = 0
    recent: list[int] = field(default_factory=list)  # activation times still inside the rule's cap window


def fired(tallies: Mapping[str, RuleTally], event: Interaction, model: ScoringModel) -> list[Rule]:
    """The rules this event fires, after once-only rules and caps had their say."""
    out = []
    machine = event.machine
    for rule in model.rules_by_type.get(event.type, ()):
        if (machine and not rule.score_machine) or (rule.condition.narrows and not rule.condition.matches(event)):
            continue
        tally = tallies.get(rule.id) if rule.once or rule.cap is not None else None
        if tally is not None:
            if rule.once and tally.activations > 0:
                continue
            if rule.cap is not None:
                recent, at = tally.recent, event.occurred_at
                inside = bisect.bisect_right(recent, at) - bisect.bisect_right(recent, at - rule.cap.per_ms)
                if inside >= rule.cap.max:
                    continue
        out.append(rule)
    return out


def record(tallies: dict[str, RuleTally], rule: Rule, at: int) -> None:
    """Count one activation of ``rule`` at event time ``at``."""
    tally = tallies.get(rule.id)
    if tally is None:
        tallies[rule.id] = RuleTally(rule.points, at, 1, [at] if rule.cap else [])
        return
    tally.add(rule.points, at, rule.half_life_ms)
    tally.activations += 1
    if rule.cap is not None:
        recent = tally.recent
        bisect.insort(recent, at)
        del recent[:bisect.bisect_right(recent, tally.as_of - rule.cap.per_ms)]


def add_behaviour(sums: dict[int | None, DecayingSum], rule: Rule, at: int) -> None:
    current = sums.get(rule.half_life_ms)
    if current is None:
        sums[rule.half_life_ms] = DecayingSum(rule.points, at)
    else:
        current.add(rule.points, at, rule.half_life_ms)


def behaviour(sums: Mapping[int | None, DecayingSum], now: int) -> float:
    score = 0.0
    for half_life, decaying in sums.items():  # decay_factor inlined: this runs for nearly every event
        elapsed = now - decaying.as_of
        score += decaying.value * 0.5 ** (elapsed / half_life) if half_life and elapsed > 0 else decaying.value
    return score


def dimensions(tallies: Mapping[str, RuleTally], model: ScoringModel, now: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for rule in model.rules:
        if rule.dimension is not None and rule.id in tallies:
            out[rule.dimension] = out.get(rule.dimension, 0.0) + tallies[rule.id].at(now, rule.half_life_ms)
    return out


def fit(profile: Mapping[str, str], model: ScoringModel) -> tuple[float, tuple[str, ...]]:
    """Recomputed from the whole profile, never accumulated: the same profile always scores the same."""
    matched = tuple(rule.id for rule in model.fit_rules if rule.condition.matches(profile))
    points = {rule.id: rule.points for rule in model.fit_rules}
    return sum(points[rule_id] for rule_id in matched), matched
