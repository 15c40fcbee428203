"""Behaviour and fit scoring: per-rule tallies that decay in event time, with once-only rules and caps.

A tally keeps a rule's points as of the newest time it saw; its value at any later time
is that value decayed by the rule's half-life. Adding points at an earlier time (an
out-of-order event) decays them to the tally's time first, so the arithmetic is the same
whatever order events arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from schemas.records import Interaction
from streams.core.decay import decay_factor
from streams.core.model import Rule, ScoringModel


@dataclass(frozen=True, slots=True)
class RuleTally:
    value: float
    as_of: int
    activations: int = 0
    recent: tuple[int, ...] = ()  # activation times still inside the rule's cap window

    def at(self, now: int, half_life_ms: int | None) -> float:
        return self.value * decay_factor(now - self.as_of, half_life_ms)


@dataclass(frozen=True, slots=True)
class Activation:
    rule: Rule
    points: float


def activations(tallies: Mapping[str, RuleTally], event: Interaction, model: ScoringModel) -> list[Activation]:
    """The rules this event fires, after once-only rules and caps had their say."""
    fired = []
    for rule in model.rules:
        if not rule.matches(event):
            continue
        tally = tallies.get(rule.id)
        if rule.once and tally is not None and tally.activations > 0:
            continue
        if rule.cap is not None and tally is not None:
            start = event.occurred_at - rule.cap.per_ms
            if sum(1 for t in tally.recent if start < t <= event.occurred_at) >= rule.cap.max:
                continue
        fired.append(Activation(rule, rule.points))
    return fired


def add(tally: RuleTally | None, rule: Rule, points: float, at: int) -> RuleTally:
    if tally is None:
        return RuleTally(points, at, 1, (at,) if rule.cap else ())
    as_of = max(tally.as_of, at)
    value = tally.at(as_of, rule.half_life_ms) + points * decay_factor(as_of - at, rule.half_life_ms)
    recent = tally.recent
    if rule.cap is not None:
        horizon = as_of - rule.cap.per_ms
        recent = tuple(sorted(t for t in (*recent, at) if t > horizon))
    return RuleTally(value, as_of, tally.activations + 1, recent)


def behaviour(tallies: Mapping[str, RuleTally], model: ScoringModel, now: int) -> float:
    return sum(tallies[r.id].at(now, r.half_life_ms) for r in model.rules if r.id in tallies)


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
