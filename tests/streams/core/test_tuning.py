"""Tuning on `leadflow synthetic`'s seeded history with a known truth, the shipped model tuned (as the README's
`leadflow synthetic --prospects 20000 --seed 1` then `leadflow tune --min-leads 140`): points move the right way,
the held-out reject rate falls, the same data gives the same candidate; bounds, frozen rules, the refusal when too
little is held out, and a candidate model file that says exactly what changed."""

import pytest

from streams.core.backtest import report, tally
from streams.core.candidate_model import candidate_text, unified_diff, version_for
from streams.core.model import parse_model
from streams.core.tuning import (INFEASIBLE, NOT_BETTER, PROPOSED, REFUSED, UNCHANGED, Periods, Settings,
                                 split_at, tune)
from streams.core.tuning_data import (CATEGORIES, HELD_OUT, IN_SAMPLE, JUDGED, LEADS, REJECTED_LEADS, UNKNOWN,
                                      WON_LEADS, Shard, SpaceError, Sweep, extract, space)
from tests.streams.core.sales_history import MODEL, MODEL_TEXT, NOISE, PREDICTIVE, history

MARGIN = 0.08  # the held-out reject rate must fall by at least this much (8 percentage points)
README_RUN = 20_000, 140  # prospects (seed 1) and --min-leads of the README's figures


def prepare(prospects, seed=1, freeze=(), max_change=0.5, holdout=0.25):
    histories = history(prospects, seed)
    bounds = space(MODEL, freeze, max_change)
    reduced = [p for key, inputs in histories if (p := extract(key, inputs, MODEL, bounds)) is not None]
    start = min(inputs[0].occurred_at for _, inputs in histories)
    end = max(inputs[-1].occurred_at for _, inputs in histories)
    periods = Periods(start, split_at([p.anchor for p in reduced if p.anchor is not None], end, holdout), end)
    return histories, bounds, Shard(reduced, bounds.grid, periods.split), periods


def capacity(shard, bounds, periods, share=0.7):
    """``share`` of the leads a month the current model sends in-sample: sales' capacity in these tests."""
    sweep = shard.evaluate([bounds.current])[0]
    leads = sweep.at(IN_SAMPLE, LEADS, bounds.grid.index(bounds.threshold))
    return round(share * leads / (periods.length_ms(IN_SAMPLE) / Settings(1).per_ms))


@pytest.fixture(scope="module")
def tuned():
    prospects, min_leads = README_RUN
    histories, bounds, shard, periods = prepare(prospects)
    settings = Settings(min_leads)
    return bounds, settings, tune(bounds, shard.evaluate, periods, settings)


def test_tuning_moves_predictive_rules_up_and_noise_down(tuned):
    bounds, _, result = tuned
    assert result.verdict == PROPOSED, result.message
    points = dict(zip(bounds.names, result.candidate.points))
    before = dict(zip(bounds.names, bounds.current))
    for predictive in PREDICTIVE:
        assert points[predictive] > before[predictive], predictive
    for noise in NOISE:
        assert points[noise] < before[noise], noise


def test_the_held_out_reject_rate_falls_by_the_stated_margin(tuned):
    _, settings, result = tuned
    now, then = result.current.held_out, result.candidate.held_out
    assert then.reject_rate <= now.reject_rate - MARGIN, (now, then)
    assert then.judged >= settings.min_judged and then.won >= settings.min_won
    assert result.candidate.in_sample.leads_per_period >= settings.min_leads  # sales' capacity is met
    assert result.stage1.in_sample.reject_rate <= result.candidate.in_sample.reject_rate <= \
        result.stage1.in_sample.reject_rate + settings.tolerance  # stage 2 stays within the tolerance
    assert result.candidate.in_sample.won_value >= result.stage1.in_sample.won_value


def test_the_same_data_gives_the_same_candidate():
    results = []
    for _ in range(2):  # the histories generated again, reduced again, tuned again
        _, bounds, shard, periods = prepare(3000, seed=4)
        results.append(tune(bounds, shard.evaluate, periods, Settings(capacity(shard, bounds, periods))))
    first, second = results
    assert first.verdict == PROPOSED, first.message
    assert (second.candidate.points, second.candidate.threshold) == (first.candidate.points, first.candidate.threshold)
    assert second == first


def test_too_little_held_out_data_is_refused_saying_how_much_more_is_needed():
    _, bounds, shard, periods = prepare(500, seed=3)
    result = tune(bounds, shard.evaluate, periods, Settings(5))
    assert result.verdict == REFUSED and result.candidate is None and result.stage1 is None
    held = result.current.held_out
    assert held.judged < 30 or held.won < 5
    assert result.message.startswith(f"refusing to propose a model: the held-out period holds {held.judged} judged "
                                     f"leads and {held.won} won deals under the current model; the rule is at least "
                                     "30 judged leads and 5 won deals there: ")
    assert f"{30 - held.judged} more judged leads" in result.message and "more months of outcomes at its pace" in \
        result.message


def test_frozen_rules_stay_and_every_point_stays_within_its_bounds():
    _, bounds, shard, periods = prepare(3000, freeze=("demo-request", "senior-title"), max_change=0.2)
    assert bounds.frozen == ("demo-request", "fit:senior-title")
    result = tune(bounds, shard.evaluate, periods, Settings(capacity(shard, bounds, periods)))
    for stage in (result.stage1, result.stage2):
        points = dict(zip(bounds.names, stage.points))
        assert points["demo-request"] == 40 and points["fit:senior-title"] == 15
        for name, old, new in zip(bounds.names, bounds.current, stage.points):
            assert abs(new - old) <= 0.2 * abs(old) + 1e-9 and (new > 0) == (old > 0) and new == int(new), name
        assert 40 <= stage.threshold <= 60


def test_bounds_keep_signs_and_whole_numbers_and_leave_zero_and_unknown_names_alone():
    model = parse_model(MODEL_TEXT.replace("points: -10", "points: -7").replace("points: 1\n", "points: 0\n"))
    bounds = space(model, max_change=0.5)
    by = {name: (low, high) for name, low, high in zip(bounds.names, bounds.lows, bounds.highs)}
    assert by["email-click"] == (5, 15) and by["email-bounce"] == (-10, -4) and by["page-view"] == (0, 0)
    assert bounds.grid[0] == 25 and bounds.grid[-1] == 75 and len(bounds.grid) == 51
    assert space(model, max_change=1.0).lows[0] == 1  # never down to 0: a rule keeps its sign
    with pytest.raises(SpaceError, match="--freeze nope: the model has no such rule; its rules: email-open"):
        space(model, ["nope"])


def test_a_batch_differing_in_one_rule_scores_as_each_vector_alone():
    _, bounds, shard, _ = prepare(400)
    vectors = [bounds.current[:1] + (float(v),) + bounds.current[2:] for v in (8, 15, 22)]
    assert shard.evaluate(vectors) == [shard.evaluate([v])[0] for v in vectors]


def test_features_and_the_backtest_count_the_same_leads():
    histories, bounds, shard, periods = prepare(800)
    sweep = shard.evaluate([bounds.current])[0]
    rows = report(tally(histories, MODEL, bounds.grid), MODEL).rows
    for index, row in enumerate(rows):
        assert (sweep.both(LEADS, index), sweep.both(JUDGED, index), sweep.both(WON_LEADS, index),
                sweep.both(UNKNOWN, index)) == (row.leads, row.judged, row.won, row.unknown), row.threshold
    assert sweep.at(HELD_OUT, JUDGED, 25) > 0 and sweep.at(IN_SAMPLE, JUDGED, 25) > 0


def test_capacity_out_of_reach_is_said_and_a_model_with_nothing_to_gain_stays():
    _, bounds, shard, periods = prepare(3000)
    result = tune(bounds, shard.evaluate, periods, Settings(100_000))
    assert result.verdict == INFEASIBLE and "no candidate within the bounds sends 100000 leads a month" in \
        result.message
    frozen = space(MODEL, bounds.names, 0.01)  # everything frozen, the threshold can only stay
    result = tune(frozen, Shard(shard.prospects, frozen.grid, periods.split).evaluate, periods, Settings(1))
    assert result.verdict == UNCHANGED and "no candidate written" in result.message


def test_a_candidate_worse_on_held_out_data_is_not_proposed():
    _, bounds, shard, periods = prepare(3000)

    def sales_rejected_every_other_held_out_lead(vectors):  # for every vector but the current model's
        out = []
        for vector, sweep in zip(vectors, shard.evaluate(vectors)):
            values = list(sweep.values)
            if tuple(vector) != bounds.current:
                judged, rejected = ((HELD_OUT * CATEGORIES + c) * sweep.size for c in (JUDGED, REJECTED_LEADS))
                values[rejected:rejected + sweep.size] = values[judged:judged + sweep.size]
            out.append(Sweep(sweep.size, tuple(values)))
        return out

    result = tune(bounds, sales_rejected_every_other_held_out_lead, periods, Settings(capacity(shard, bounds, periods)))
    assert result.verdict == NOT_BETTER and result.candidate is None and result.stage2 is not None
    assert result.message.startswith("the candidate does better in-sample but not on the held-out period (reject "
                                     "rate 100.0% vs ")


def test_the_candidate_model_file_says_exactly_what_changed(tuned):
    bounds, _, result = tuned
    candidate = result.candidate
    changes = {n: (old, new) for n, old, new in zip(bounds.names, bounds.current, candidate.points) if old != new}
    version = version_for("default-4", candidate.points, candidate.threshold, "20251231")
    text = candidate_text(MODEL_TEXT, "default.yaml", changes, (50, candidate.threshold), version)
    model = parse_model(text, "candidate.yaml")
    assert model.version == version and model.promote_threshold == candidate.threshold
    assert [r.points for r in model.rules] + [f.points for f in model.fit_rules] == list(candidate.points)
    diff = unified_diff(MODEL_TEXT, text, "default.yaml", "candidate.yaml")
    removed = [line for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert len(removed) == len(added) == len(changes) + 1 + 1 + 1  # points, version, promote, demote
    assert all("points:" in line or "promote:" in line or "demote:" in line or "version:" in line
               for line in removed + added)
    for name, (old, new) in changes.items():
        assert any(f"# tuned: {old:g} -> {new:g}" in line for line in added), name
    assert "promote: TT               # tuned: 50 -> TT; a known prospect at or above this becomes a sales-ready lead".replace(
        "TT", f"{candidate.threshold:g}") in text  # the file's own comments stay, in their column
