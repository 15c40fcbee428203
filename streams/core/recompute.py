"""States recomputed from a prospect's retained history: identity merges and rescoring under a new model.

Why apart from ``prospect.apply``: the per-input transition is the hot path and reads on
its own; these replay whole histories (a merge as if every input had been the known
prospect's from the start, a rescore as if the new model had always been deployed) and
then work out what the CRM must hear, keeping the response clock it already knows.
"""

from __future__ import annotations

from dataclasses import replace

from schemas.records import Interaction
from streams.core import lifecycle, sla
from streams.core.history import Input, canonical_order
from streams.core.identity import person_id
from streams.core.model import ScoringModel
from streams.core.prospect import (SEEN_WINDOW, LeadChange, MergeRequest, Outcome, ProspectState, apply,
                                   cancel_clock, next_version, start_clock)
from streams.core.seen import RecentIds


def absorb(known: ProspectState, request: MergeRequest, model: ScoringModel) -> Outcome:
    """The receiving side of an identity merge (a person, or a user id adopting an anonymous visitor);
    redelivery changes nothing. A receiver that has itself been linked on since passes the hand-over on."""
    link = request.link
    if link.event_id in known.seen or link.prospect_id is None:
        return Outcome(known, changed=False)
    if known.alias_of is not None:
        known.seen.add(link.event_id)
        return Outcome(known, (MergeRequest(replace(link, prospect_id=known.alias_of), request.inputs),))
    anonymous = replay(link.prospect_key, list(request.inputs), model)
    merged = merge(known, anonymous, model, person_id(link.prospect_id), link.email)
    merged.seen.add(link.event_id)
    return _recomputed(known, merged, model, link.event_id, link.occurred_at, link.received_at)


def replay(key: str, inputs: list[Input], model: ScoringModel) -> ProspectState:
    """The state these inputs produce from scratch: how rescoring and identity merges are computed."""
    state = ProspectState(key, model_version=model.version)
    for item in inputs:
        apply(state, item, model)
    return state


def rescore(state: ProspectState, model: ScoringModel) -> Outcome:
    """A new state for this prospect recomputed from its retained history under ``model`` (a new model
    deployed to the workers), with the lead change the CRM must hear about."""
    fresh = replay(state.key, list(state.history), model)
    fresh.prospect_id = state.prospect_id or fresh.prospect_id
    fresh.email = state.email or fresh.email
    fresh.alias_of = state.alias_of
    fresh.seen = RecentIds(SEEN_WINDOW, [*state.seen, *fresh.seen])  # RecentIds drops the repeats
    fresh.version = state.version + 1
    if fresh.stage == state.stage:
        fresh.promoted_at = state.promoted_at
    return _recomputed(state, fresh, model, f"rescore:{model.version}", fresh.clock, fresh.clock)


def _recomputed(before: ProspectState, state: ProspectState, model: ScoringModel, cause: str, at: int,
                received_at: int) -> Outcome:
    """What the CRM must hear about a state recomputed from its history (an identity merge or a new model).
    The response clock is the one the CRM already knows, or a new one for a new promotion; the replay's
    own clocks (and the queues they assigned) are not real."""
    state.sla, state.queue, state.owner, state.automation = before.sla, before.queue, before.owner, before.automation
    steps: tuple[sla.SlaStep, ...] = ()
    if state.stage == lifecycle.LEAD and before.stage != lifecycle.LEAD:
        kind = "lead.promoted"
        steps = start_clock(state, model, at)
    elif before.stage == lifecycle.LEAD and state.stage == lifecycle.NAME:
        kind = "lead.demoted"
        steps = cancel_clock(state, at)
    elif state.stage in lifecycle.IN_SALES:
        kind = "lead.updated"
    else:
        return Outcome(state)
    return Outcome(state, (LeadChange(kind, cause, at, received_at), *steps))


def merge(known: ProspectState, anonymous: ProspectState, model: ScoringModel, prospect_id: str | None,
          email: str | None) -> ProspectState:
    """A new state for the known prospect after absorbing an anonymous one: as if every input had been
    theirs from the start.

    Once-only rules, caps and decay then hold across both histories; the anonymous events
    take the identity the link (``identity.linked``) names. Neither input state is changed.
    """
    own = {i.event_id for i in known.history}
    adopted = [replace(i, prospect_key=known.key, prospect_id=prospect_id, email=email)
               if isinstance(i, Interaction) else i for i in anonymous.history if i.event_id not in own]
    merged = replay(known.key, canonical_order([*known.history, *adopted]), model)
    merged.prospect_id = prospect_id
    merged.email = merged.email or email
    merged.version = next_version(max(known.version, anonymous.version), merged.clock)
    merged.seen = RecentIds(SEEN_WINDOW, [*known.seen, *merged.seen])  # inputs retention already dropped
    return merged
