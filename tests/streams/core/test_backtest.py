"""The backtest: score trajectories equal to the worker's, outcomes tied to the promotion sales saw, leads sales
never judged counted apart, a threshold sweep on a hand-built history, and rules whose points are mostly repeats."""

import dataclasses
import random

import pytest

from leadflow.config import DEFAULT_MODEL
from schemas.records import CrmFeedback, Interaction
from streams.core.backtest import Window, default_thresholds, median_hours, report, tally
from streams.core.model import load_model, parse_model
from streams.core.outcomes import GRACE_MS, OPEN, REJECTED, WON, claim, episodes
from streams.core.prospect import ProspectState, apply
from streams.core.trajectory import Parameters, feature_points, trajectory
from tests.streams.core.prospects import BASE

DAY = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01
MODEL = parse_model("""\
version: hand-1
thresholds: {promote: 50, demote: 30}
rules:
  - {id: pricing, when: {type: page.viewed, url_contains: /pricing}, points: 20}
  - {id: open, when: {type: email.opened}, points: 5}
  - {id: demo, when: {type: form.submitted, form_id: demo}, points: 40, once: true}
""")
TYPES = ("page.viewed", "email.opened", "email.clicked", "form.submitted", "asset.downloaded", "webinar.attended",
         "email.bounced", "email.unsubscribed", "profile.updated")


def interaction(key, n, type_, at, url=None, form_id=None, known=True, traits=None):
    return Interaction(event_id=f"{key}-{n}", prospect_key=key, type=type_, occurred_at=at, received_at=at,
                       source="test", prospect_id=key if known else None, email=f"{key}@x.io" if known else None,
                       url=url, form_id=form_id, traits=traits or {})


def verdict(key, n, type_, at, value=None):
    return CrmFeedback(event_id=f"{key}-v{n}", prospect_id=key, type=type_, occurred_at=at, received_at=at,
                       deal_value=value)


def pricing(key, n, day):
    return interaction(key, n, "page.viewed", T0 + day * DAY, url="https://a.io/pricing")


def random_history(rng, key="p_1"):
    at, events = T0, []
    for n in range(rng.randint(1, 40)):
        at += rng.choice([0, 1000, 3_600_000, DAY * rng.randint(1, 40)])
        events.append(interaction(key, n, rng.choice(TYPES), at, url=rng.choice(["https://a.io/", "https://a.io/pricing"]),
                                  form_id=rng.choice(["demo", "demo-request", "x"]), known=n > 2 or rng.random() < 0.5,
                                  traits={"job_title": "VP Sales"} if rng.random() < 0.05 else None))
    return events


@pytest.mark.parametrize("model", [MODEL, parse_model(BASE.replace("RECYCLE", "reset")), load_model(DEFAULT_MODEL)],
                         ids=["hand", "test-base", "shipped"])
def test_the_trajectory_is_the_workers_score_to_the_last_bit(model):
    rng = random.Random(3)
    for _ in range(200):
        events = random_history(rng)
        state, best, times, maxima, promoted = ProspectState("p_1"), float("-inf"), [], [], None
        for event in events:
            apply(state, event, model)
            total = state.fit + state.behaviour
            if state.prospect_id is not None and total > best:
                best = total
                times.append(event.occurred_at)
                maxima.append(total)
            if promoted is None and state.promoted_at is not None:
                promoted = state.promoted_at
        path = trajectory("p_1", events, model)
        assert (path.times, path.maxima) == (tuple(times), tuple(maxima))
        assert path.promoted_at(model.promote_threshold) == promoted
        assert path.first_touch == events[0].occurred_at


def with_points(model, points):
    """``model`` with these points (behaviour rules, then fit rules, as ``Parameters``): a candidate."""
    rules = tuple(dataclasses.replace(r, points=points[i]) for i, r in enumerate(model.rules))
    fits = tuple(dataclasses.replace(f, points=points[len(rules) + i]) for i, f in enumerate(model.fit_rules))
    return dataclasses.replace(model, rules=rules, fit_rules=fits)


def test_features_give_every_candidates_first_promotion_without_a_replay():
    """Scores are linear in the points: a candidate's promotion time at any threshold, from the features, is the
    one a replay under that candidate gives (the dominated points the features leave out never matter)."""
    base = load_model(DEFAULT_MODEL)
    params = Parameters.of(base)
    rng = random.Random(5)
    for _ in range(150):
        events = random_history(rng)
        features = feature_points("p_1", events, base, params.signs())
        points = [p * rng.uniform(0.5, 1.5) for p in params.points]
        path = trajectory("p_1", events, with_points(base, points))
        scores = features.scores(points)
        for threshold in (10.5, 30.5, 50.5, 80.5, 150.5):
            by_features = next((at for at, s in zip(features.times, scores) if s >= threshold), None)
            assert by_features == path.promoted_at(threshold)


def test_verdicts_form_episodes_one_per_promotion_sales_saw():
    key = "p_e"
    judged = episodes([verdict(key, 0, "accepted", T0), verdict(key, 1, "lost", T0 + 5 * DAY),
                       verdict(key, 2, "disqualified", T0 + 40 * DAY),
                       verdict(key, 3, "contacted", T0 + 90 * DAY), verdict(key, 4, "won", T0 + 99 * DAY, 7000.0),
                       verdict(key, 5, "accepted", T0 + 200 * DAY)])
    assert [(e.result, e.accepted, e.value) for e in judged] == [(REJECTED, True, 0.0), (REJECTED, False, 0.0),
                                                                (WON, True, 7000.0), (OPEN, True, 0.0)]
    assert [e.judged_at for e in judged] == [T0, T0 + 40 * DAY, T0 + 90 * DAY, T0 + 200 * DAY]
    assert claim(judged, T0 - 30 * DAY).episode is judged[0]  # promoted earlier than sales saw it: the same lead
    assert claim(judged, T0 + 20 * DAY).episode is judged[1]
    assert claim(judged, T0 + 95 * DAY).episode is judged[2]
    assert claim(judged, T0 + 150 * DAY).episode is judged[3]  # the open one covers every later promotion
    closed = episodes([verdict(key, 0, "disqualified", T0)])
    assert claim(closed, T0 + GRACE_MS).episode is closed[0]  # a little later: the interest sales judged
    assert claim(closed, T0 + GRACE_MS + 1).episode is None  # much later: sales never judged that promotion
    assert claim((), T0).episode is None


def hand_built():
    """Five prospects, their promotions at thresholds 40 / 50 / 60 by construction."""
    a = [pricing("p_a", 0, 0), pricing("p_a", 1, 1), pricing("p_a", 2, 2),  # 20, 40, 60 on days 0-2
         verdict("p_a", 0, "accepted", T0 + 3 * DAY), verdict("p_a", 1, "won", T0 + 10 * DAY, 12000.0)]
    b = [pricing("p_b", 0, 0), pricing("p_b", 1, 1), pricing("p_b", 2, 5),  # 40 on day 1, 60 on day 5
         verdict("p_b", 0, "disqualified", T0 + 6 * DAY)]
    c = [pricing("p_c", 0, 0), pricing("p_c", 1, 1), interaction("p_c", 2, "email.opened", T0 + 2 * DAY),
         interaction("p_c", 3, "email.opened", T0 + 2 * DAY + 1)]  # 40, then 50 on day 2: never judged
    d = [pricing("p_d", 0, 0), pricing("p_d", 1, 1), verdict("p_d", 0, "accepted", T0 + 2 * DAY),  # 40 only
         interaction("p_d", 2, "email.opened", T0 + 3 * DAY)]  # 45: still open at 40
    e = [interaction("p_e", 0, "form.submitted", T0, form_id="demo"), verdict("p_e", 0, "lost", T0 + DAY),
         interaction("p_e", 1, "email.opened", T0 + 100 * DAY), interaction("p_e", 2, "email.opened",
                                                                           T0 + 100 * DAY + 1)]  # 50 on day 100
    return [("p_a", a), ("p_b", b), ("p_c", c), ("p_d", d), ("p_e", e)]


def test_a_threshold_sweep_counts_leads_outcomes_and_the_unknown_apart():
    figures = report(tally(hand_built(), MODEL, [40, 50, 60]), MODEL)
    by = {row.threshold: row for row in figures.rows}
    # 40: a (won), b (rejected), c (unknown), d (open), e (rejected: its demo request alone is 40)
    assert (by[40].leads, by[40].judged, by[40].accepted, by[40].rejected, by[40].won, by[40].open,
            by[40].unknown) == (5, 4, 2, 2, 1, 1, 1)
    assert by[40].reject_rate == 0.5 and by[40].won_value == 12000.0 and by[40].value_per_lead == 3000.0
    # 50: a, b (day 5), c (unknown), e promoted on day 100, 99 days after sales closed it: unknown too
    assert (by[50].leads, by[50].judged, by[50].rejected, by[50].won, by[50].unknown) == (4, 2, 1, 1, 2)
    assert (by[60].leads, by[60].judged, by[60].unknown) == (2, 2, 0)
    assert by[40].median_days_to_promotion == 1.0  # promoted a day after their first touch, but e at once
    assert (figures.prospects, figures.inputs) == (5, 21)


def test_a_lead_sales_never_saw_is_never_good_or_bad():
    never_judged = [("p_c", hand_built()[2][1])]
    row = report(tally(never_judged, MODEL, [40]), MODEL).rows[0]
    assert (row.leads, row.unknown, row.judged, row.rejected, row.won) == (1, 1, 0, 0, 0)
    assert row.reject_rate is None and row.value_per_lead is None


def test_the_window_counts_promotions_inside_it():
    window = Window(since=T0 + DAY, until=T0 + 3 * DAY)  # promotions on days 1 and 2
    by = {row.threshold: row for row in report(tally(hand_built(), MODEL, [40, 50, 60], window), MODEL).rows}
    assert (by[40].leads, by[50].leads, by[60].leads) == (4, 2, 1)  # e was promoted on day 0, b at 50 on day 5


def test_chunks_tallied_apart_add_up_to_the_whole():
    histories = hand_built()
    whole = tally(histories, MODEL, [40, 50])
    parts = tally(histories[:2], MODEL, [40, 50])
    parts.merge(tally(histories[2:], MODEL, [40, 50]))
    assert report(parts, MODEL) == report(whole, MODEL)


def test_rules_whose_points_come_mostly_from_repeats_are_flagged():
    histories = [(f"p_{n}", [interaction(f"p_{n}", k, "email.opened", T0 + k * DAY) for k in range(4)]
                  + [interaction(f"p_{n}", 9, "form.submitted", T0 + 9 * DAY, form_id="demo")]) for n in range(3)]
    rules = {r.rule: r for r in report(tally(histories, MODEL, [50]), MODEL).rules}
    assert (rules["open"].activations, rules["open"].prospects, rules["open"].repeat_share, rules["open"].flagged) == \
        (12, 3, 0.75, True)
    assert (rules["demo"].repeat_share, rules["demo"].flagged) == (0.0, False)
    assert (rules["pricing"].activations, rules["pricing"].flagged) == (0, False)


def test_closed_prospects_are_binned_by_their_score_at_the_close():
    figures = report(tally(hand_built(), MODEL, [50]), MODEL)
    width = figures.edges[1]
    assert width == 5.0 and sum(figures.won_scores) == 1 and sum(figures.rejected_scores) == 2
    assert figures.won_scores[int(60 // width)] == 1  # a: 60 when it was won
    assert figures.rejected_scores[int(60 // width)] == 1 and figures.rejected_scores[int(40 // width)] == 1  # b, e


def test_the_default_sweep_surrounds_the_models_threshold_and_medians_are_in_hours():
    assert default_thresholds(MODEL) == (25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 55.0, 60.0, 65.0, 70.0, 75.0)
    assert median_hours({3: 1, 10: 2}) == 10 and median_hours({2: 1, 4: 1}) == 3


def test_thresholds_given_in_any_order_are_swept_in_ascending_order():
    assert report(tally(hand_built(), MODEL, [60, 40, 50]), MODEL) == report(tally(hand_built(), MODEL, [40, 50, 60]),
                                                                              MODEL)
