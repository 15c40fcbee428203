"""Re-promotions after a recycle: the recycled scores are the worker's, every promotion is a lead with the episode
it claims (each episode one lead's at most), and the tuner's features count the same leads as the backtest."""

import dataclasses
import random

from hypothesis import given, settings, strategies as st

from schemas.records import CrmFeedback, Interaction
from streams.core.backtest import facts, leads, report, tally
from streams.core.model import parse_model
from streams.core.outcomes import REJECTED, WON, episodes, recycles
from streams.core.prospect import LeadChange, ProspectState, apply
from streams.core.trajectory import Parameters, feature_points, trajectory
from streams.core.tuning_data import IN_SAMPLE, JUDGED, LEADS, REJECTED_LEADS, UNKNOWN, WON_LEADS, Shard, extract, space
from tests.streams.core.prospects import BASE
from tests.streams.core.test_backtest import (DAY, MODEL, T0, interaction, pricing, random_history, verdict,
                                             with_points)

POLICIES = {policy: parse_model(BASE.replace("RECYCLE", policy).replace("promote: 50, demote: 30", "promote: 25, demote: 10"))
            for policy in ("reset", "halve", "keep")}


def test_after_a_recycle_the_scores_are_the_workers_to_the_last_bit():
    """One recycling verdict dropped into random histories: where the worker recycled the lead, its scores from
    there on (running maxima) are the trajectory's ``after``, for every recycle policy."""
    rng = random.Random(11)
    compared = 0
    for policy, model in POLICIES.items():
        for _ in range(150):
            events = random_history(rng)
            cut = rng.randrange(len(events))
            at = events[cut].occurred_at + rng.choice([0, 1, DAY])
            recycled_at = None
            state, best, times, maxima = ProspectState("p_1"), float("-inf"), [], []
            merged = events[:cut + 1] + [verdict("p_1", 0, rng.choice(["lost", "disqualified"]), at)] + \
                [e for e in events[cut + 1:]]
            for record in sorted(merged, key=lambda r: (r.occurred_at, type(r) is CrmFeedback)):
                effects = apply(state, record, model).effects
                if type(record) is CrmFeedback:
                    if any(type(e) is LeadChange and e.kind == "lead.recycled" for e in effects):
                        recycled_at = at
                    continue
                total = state.fit + state.behaviour
                if recycled_at is not None and record.occurred_at > at and state.prospect_id is not None \
                        and total > best:
                    best = total
                    times.append(record.occurred_at)
                    maxima.append(total)
            if recycled_at is None:
                continue
            compared += 1
            after = trajectory("p_1", events, model, recycles=(at,)).after[0]
            assert (after.times, after.maxima) == (tuple(times), tuple(maxima)), policy
    assert compared > 100


def recycled_twice():
    """Promoted (day 1, 40), disqualified (day 3), promoted again (day 20), lost (day 30), again (day 50): never
    judged. Under ``reset`` each promotion needs two pricing views after the recycle."""
    key = "p_r"
    return key, [pricing(key, 0, 0), pricing(key, 1, 1), verdict(key, 0, "disqualified", T0 + 3 * DAY),
                 pricing(key, 2, 19), pricing(key, 3, 20), verdict(key, 1, "accepted", T0 + 22 * DAY),
                 verdict(key, 2, "lost", T0 + 30 * DAY), pricing(key, 4, 49), pricing(key, 5, 50)]


def test_a_prospect_promoted_recycled_and_promoted_again_is_a_lead_each_time():
    key, inputs = recycled_twice()
    prospect = facts(key, inputs, MODEL)
    assert [(at, e.result if e else None) for at, e in leads(prospect.trajectory, prospect.episodes, 40,
                                                             prospect.trajectory.promoted_at(40))] == \
        [(T0 + DAY, REJECTED), (T0 + 20 * DAY, REJECTED), (T0 + 50 * DAY, None)]
    row = report(tally([(key, inputs)], MODEL, [40]), MODEL).rows[0]
    assert (row.leads, row.judged, row.rejected, row.accepted, row.unknown) == (3, 2, 2, 1, 1)
    # the worker under a model whose threshold is 40 sends the same three leads
    model = dataclasses.replace(MODEL, promote_threshold=40.0, demote_threshold=None)
    state, promotions = ProspectState(key), []
    for record in inputs:
        promotions += [e.occurred_at for e in apply(state, record, model).effects
                       if type(e) is LeadChange and e.kind == "lead.promoted"]
    assert promotions == [T0 + DAY, T0 + 20 * DAY, T0 + 50 * DAY]


def test_a_won_or_open_lead_stays_with_sales_and_a_late_lead_takes_no_episode_twice():
    key = "p_w"
    won = [pricing(key, 0, 0), pricing(key, 1, 1), verdict(key, 0, "won", T0 + 3 * DAY, 5000.0),
           pricing(key, 2, 19), pricing(key, 3, 20)]
    row = report(tally([(key, won)], MODEL, [40]), MODEL).rows[0]
    assert (row.leads, row.won, row.won_value) == (1, 1, 5000.0)
    late = [pricing(key, 0, 0), pricing(key, 1, 1), pricing(key, 2, 2), verdict(key, 0, "disqualified", T0 + 3 * DAY),
            pricing(key, 3, 5), pricing(key, 4, 6), pricing(key, 5, 7)]
    by = {r.threshold: r for r in report(tally([(key, late)], MODEL, [40, 60]), MODEL).rows}
    assert (by[40].leads, by[40].rejected, by[40].unknown) == (2, 1, 1)  # again on day 6: nothing judged it
    assert (by[60].leads, by[60].rejected, by[60].unknown) == (2, 1, 1)  # day 2 takes the episode, day 7 none


@st.composite
def histories(draw):
    """A few prospects: pricing views, opens and demo requests, and verdict episodes at random days."""
    out = []
    for p in range(draw(st.integers(1, 4))):
        key = f"p_{p}"
        days = draw(st.lists(st.tuples(st.integers(0, 120), st.sampled_from(["pricing", "open", "demo"])),
                             min_size=1, max_size=14))
        inputs = []
        for n, (day, kind) in enumerate(sorted(days)):
            at = T0 + day * DAY + n
            inputs.append(pricing(key, n, day) if kind == "pricing" else
                          interaction(key, n, "email.opened", at) if kind == "open" else
                          interaction(key, n, "form.submitted", at, form_id="demo"))
        verdicts = draw(st.lists(st.tuples(st.integers(0, 125), st.sampled_from(
            ["accepted", "contacted", "won", "lost", "disqualified"])), max_size=6))
        for n, (day, kind) in enumerate(sorted(verdicts)):
            inputs.append(verdict(key, n, kind, T0 + day * DAY + 500 + n, 1000.0 * (n + 1) if kind == "won" else None))
        out.append((key, sorted(inputs, key=lambda r: (r.occurred_at, r.event_id))))
    return out


@settings(max_examples=150, deadline=None)
@given(histories(), st.sampled_from([20.0, 40.0, 55.0, 80.0]))
def test_every_lead_claims_its_own_episode_and_the_tuner_counts_the_same_leads(prospects, threshold):
    for key, inputs in prospects:
        prospect = facts(key, inputs, MODEL)
        first = prospect.trajectory.promoted_at(threshold)
        if first is None:
            continue
        chain = leads(prospect.trajectory, prospect.episodes, threshold, first)
        times = [at for at, _ in chain]
        claimed = [id(e) for _, e in chain if e is not None]
        assert times == sorted(set(times)) and len(claimed) == len(set(claimed))  # each episode one lead's
        assert all(e is not None and e.result == REJECTED for _, e in chain[:-1])  # only a rejection recycles
        assert len(chain) <= len(recycles(prospect.episodes)) + 1
    row = report(tally(prospects, MODEL, [threshold]), MODEL).rows[0]
    assert row.leads == row.judged + row.unknown >= row.judged >= row.rejected + row.won
    bounds = dataclasses.replace(space(MODEL), grid=(threshold,))
    reduced = [p for key, inputs in prospects if (p := extract(key, inputs, MODEL, bounds)) is not None]
    sweep = Shard(reduced, bounds.grid, T0 + 10_000 * DAY).evaluate([bounds.current])[0]
    assert tuple(sweep.at(IN_SAMPLE, c, 0) for c in (LEADS, JUDGED, REJECTED_LEADS, WON_LEADS, UNKNOWN)) == \
        (row.leads, row.judged, row.rejected, row.won, row.unknown)


def test_features_after_a_recycle_give_a_candidates_re_promotion_without_a_replay():
    model = POLICIES["halve"]
    params = Parameters.of(model)
    rng = random.Random(8)
    for _ in range(100):
        events = random_history(rng)
        at = events[rng.randrange(len(events))].occurred_at
        features = feature_points("p_1", events, model, params.signs(), (at,)).after[0]
        points = [p * rng.uniform(0.5, 1.5) for p in params.points]
        after = trajectory("p_1", events, with_points(model, points), recycles=(at,)).after[0]
        for threshold in (5.5, 20.5, 40.5, 70.5):
            by_features = next((t for t, s in zip(features.times, features.scores(points)) if s >= threshold),
                               None)
            assert by_features == after.promoted_at(threshold)


def test_episodes_and_recycles_line_up():
    judged = episodes([verdict("p", 0, "disqualified", T0), verdict("p", 1, "won", T0 + DAY, 10.0),
                       verdict("p", 2, "lost", T0 + 2 * DAY)])
    assert [e.result for e in judged] == [REJECTED, WON, REJECTED] and recycles(judged) == (T0, T0 + 2 * DAY)
