"""One timer mechanism: when a prospect next has something due without an input.

SLA steps, a lead's decay under the demotion threshold, program waits, emails deferred by
quiet hours, email-outcome windows and inactivity are all dates derived from the prospect
state, so ``next_due`` is the one question the worker asks after every change: it keeps one
index (key -> date) and puts a tick on the interactions topic when a date has come. The tick
is an input like any other, processed in order, and what it runs is dated by the schedule,
not by the tick, so a late or repeated tick changes nothing but the latency.
"""

from __future__ import annotations

from streams.core import automations, lifecycle, scoring, sla
from streams.core.decay import first_below, newton_crossing
from streams.core.automation_index import Engine
from streams.core.model import ScoringModel
from streams.core.prospect import ProspectState

HORIZON_MS = 5 * 365 * 86_400_000  # a lead that stays above the demotion threshold this long has no decay timer


def next_due(state: ProspectState, model: ScoringModel, engine: Engine | None) -> int | None:
    times = [t for t in (sla_due(state, model), demotion_due(state, model),
                         automations.due(state, engine) if engine is not None else None) if t is not None]
    return min(times, default=None)


def sla_due(state: ProspectState, model: ScoringModel) -> int | None:
    if state.sla is None or model.sla is None or state.sla.sla_id != model.sla.id:
        return None
    return sla.next_due(state.sla, model.sla)


def demotion_due(state: ProspectState, model: ScoringModel) -> int | None:
    """When decay alone takes a lead's total under the demotion threshold (to the millisecond), found by bisection
    over the decaying sums, to the millisecond; None when it is not a lead nobody accepted, or not within the horizon."""
    threshold = model.demote_threshold
    if threshold is None or state.stage != lifecycle.LEAD:
        return None
    sums = state.behaviour_by_half_life
    near = newton_crossing([(s.value, s.as_of, half_life) for half_life, s in sums.items()], state.fit, threshold,
                           state.clock)
    return first_below(lambda at: state.fit + scoring.behaviour(sums, at), state.clock, threshold, HORIZON_MS, near)
