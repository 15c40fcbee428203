from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadflow.config import DEFAULT_MODEL
from streams.core.history import canonical_order
from streams.core.leads import lead_event, timeline, type_counts
from streams.core.model import load_model, parse_model
from streams.state_codec import dump_state, load_state
from streams.core.prospect import Forward, MergeRequest, ProspectState, Tick, apply, scores
from streams.core.recompute import absorb, merge, replay, rescore
from tests.streams.core.prospects import BASE, DAY, MODEL, PID, copy_of, event, run, total, verdict


def test_points_add_up_and_promotion_happens_once_at_the_threshold():
    state, effects = run([event(1), event(2)])
    assert total(state) == 42 and state.stage == "name" and effects == []
    state, effects = run([event(3)], state)
    assert total(state) == 63 and state.stage == "lead" and effects == ["lead.promoted"]
    assert state.promoted_at == 3000
    state, effects = run([event(4, "email.opened", url=None)], state)
    assert effects == ["lead.updated"]


def test_decay_halves_points_every_half_life_in_event_time():
    state, _ = run([event(1, at=0)])
    assert scores(state, MODEL, now=10 * DAY).behaviour == pytest.approx(10 + 1)  # pricing halves, view keeps
    later, _ = run([event(2, "email.bounced", url=None, at=20 * DAY)], state)
    assert scores(later, MODEL).behaviour == pytest.approx(20 * 0.25 + 1 - 10)


def test_out_of_order_points_decay_to_the_same_total():
    a, _ = run([event(1, at=0), event(2, at=5 * DAY)])
    b, _ = run([event(2, at=5 * DAY), event(1, at=0)])
    assert scores(a, MODEL).total == pytest.approx(scores(b, MODEL).total)


def test_once_only_rules_fire_once_and_caps_hold_per_window():
    state, _ = run([event(n, "form.submitted", url=None, form_id="demo", at=n) for n in range(3)])
    assert total(state) == 40
    opens = [event(n, "email.opened", url=None, at=n * 1000) for n in range(5)]
    state, _ = run(opens)
    assert total(state) == 2 * 5 + 5 * 1  # capped rule twice, uncapped bot-open rule five times
    state, _ = run([event(9, "email.opened", url=None, at=2 * DAY)], state)
    assert total(state) == 15 + 5 + 1  # a new day: the cap window has passed


def test_machine_activity_is_kept_but_scores_only_where_a_rule_opts_in():
    state, _ = run([event(1, "email.opened", url=None, machine=True)])
    assert total(state) == 1 and [e.rule_id for e in state.ledger] == ["bot-open"]
    assert [e.type for e in timeline(state)] == ["email.opened"]


def test_fit_is_recomputed_from_the_profile_not_accumulated():
    state, _ = run([event(1, "profile.updated", url=None, traits={"job_title": "VP Marketing"})])
    assert state.fit == 15
    state, _ = run([event(2, "profile.updated", url=None, traits={"job_title": "VP Sales"})], state)
    assert state.fit == 15
    state, _ = run([event(3, "profile.updated", url=None, traits={"job_title": "Intern"})], state)
    assert state.fit == 0 and state.profile["job_title"] == "Intern"


def test_dimensions_and_segments():
    state, _ = run([event(1), event(2, "email.opened", url=None)])
    assert scores(state, MODEL).dimensions == pytest.approx({"intent": 20}, rel=1e-4)
    assert state.segments == ("pricing-visitors",)


def test_decay_demotes_an_unaccepted_lead_with_hysteresis():
    state, effects = run([event(n, at=n) for n in range(1, 4)])
    assert state.stage == "lead"
    state, effects = run([Tick(5 * DAY)], state)  # 60 -> ~45 + 3: still above the demotion threshold
    assert state.stage == "lead" and effects == []
    state, effects = run([Tick(20 * DAY)], state)
    assert state.stage == "name" and effects == ["lead.demoted"]
    state, effects = run([event(9, at=20 * DAY + 1)], state)
    assert state.stage == "name" and effects == []  # below promote again: no flapping back


def test_crm_verdicts_drive_the_lifecycle_and_recycle_to_nurture():
    lead, _ = run([event(n, at=n) for n in range(1, 4)])
    accepted, effects = run([verdict(1, "accepted", 10)], lead)
    assert accepted.stage == "accepted" and effects == ["lead.updated"]
    assert run([Tick(60 * DAY)], accepted)[0].stage == "accepted"  # accepted leads are not demoted
    lost, effects = run([verdict(2, "lost", 20)], accepted)
    assert lost.stage == "nurture" and effects == ["lead.recycled"] and total(lost) == 0
    again, effects = run([event(n, at=100 + n) for n in range(10, 13)], lost)
    assert again.stage == "lead" and effects == ["lead.promoted"]


@pytest.mark.parametrize("policy, expected", [("reset", 0), ("halve", 31.5), ("keep", 63)])
def test_recycle_score_policy(policy, expected):
    model = parse_model(BASE.replace("RECYCLE", policy))
    state, _ = run([event(n, at=n) for n in range(1, 4)], model=model)
    state, _ = run([verdict(1, "disqualified", 10)], state, model=model)
    assert state.stage == "nurture" and total(state, model) == pytest.approx(expected)


def test_a_verdict_for_a_name_changes_no_stage():
    state, effects = run([event(1), verdict(1, "accepted", 2000)])
    assert state.stage == "name" and effects == []


def test_redelivered_inputs_change_nothing():
    state, _ = run([event(1), verdict(1, "lost", 5)])
    before = dump_state(state)
    for item in (event(1), verdict(1, "lost", 5)):
        again = apply(state, item, MODEL)
        assert again.changed is False and again.effects == () and dump_state(state) == before


def test_ledger_explains_every_point():
    state, _ = run([event(1), event(2, "email.opened", url=None)])
    assert [(e.rule_id, e.points) for e in state.ledger] == [("pricing", 20), ("view", 1), ("open", 5), ("bot-open", 1)]
    assert state.ledger[-1].total == pytest.approx(total(state))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=25, unique=True), st.data())
def test_a_timeline_of_some_inputs_is_the_whole_timeline_filtered(numbers, data):
    """An update's timeline (looked for from the newest end) holds exactly the entries the whole one has for them."""
    state, _ = run([event(n, at=(n * 7919) % 50_000) for n in numbers])
    every = timeline(state)
    only = set(data.draw(st.lists(st.sampled_from([e.event_id for e in every] + ["absent"]), max_size=6)))
    assert timeline(state, only) == tuple(e for e in every if e.event_id in only)


def test_timeline_is_chronological_with_points_and_counts():
    state, _ = run([event(1, at=5000), event(2, "email.opened", url=None, at=1000), verdict(1, "accepted", 3000)])
    assert [(e.occurred_at, e.points) for e in timeline(state)] == [(1000, 6), (3000, 0), (5000, 21)]
    assert type_counts(state) == {"page.viewed": 1, "email.opened": 1, "crm.accepted": 1}


def test_shipped_model_promotes_on_three_pricing_visits():
    model = load_model(DEFAULT_MODEL)
    state, effects = run([event(n, at=n) for n in range(1, 4)], model=model)
    assert effects == ["lead.promoted", "sla.started"] and round(scores(state, model).total) == 63
    assert (state.queue, state.owner) == ("inbound-sdr", None)


def test_lead_event_is_deterministic_per_cause():
    state, _ = run([event(n) for n in range(1, 3)])
    outcome = apply(state, event(3), MODEL)
    first = lead_event(outcome.state, outcome.effects[0], MODEL)
    assert first == lead_event(outcome.state, outcome.effects[0], MODEL)
    assert first.type == "lead.promoted" and first.score.total == 63 and len(first.timeline) == 3
    assert first.segments == ("pricing-visitors",) and first.dimensions == {"intent": 60.0}


def test_version_keeps_rising_after_state_loss():
    before, _ = run([event(1, at=10_000)])
    after, _ = run([event(2, at=20_000)])
    assert after.version > before.version


TYPES = st.sampled_from(["page.viewed", "email.opened", "email.bounced", "form.submitted", "profile.updated"])
RAW = st.lists(st.tuples(TYPES, st.sampled_from([None, "https://a.io/pricing", "/blog"]), st.integers(0, 30 * DAY),
                         st.booleans(), st.sampled_from([None, "demo"]), st.sampled_from(["", "VP Sales", "Intern"])),
               max_size=30)


def build(raw, known=True):
    return [event(n, type_, url, at, machine, known, form_id, {"job_title": title} if title else None)
            for n, (type_, url, at, machine, form_id, title) in enumerate(raw)]


@settings(max_examples=150, deadline=None)
@given(RAW)
def test_replay_is_deterministic(raw):
    assert run(build(raw)) == run(build(raw))


@settings(max_examples=150, deadline=None)
@given(RAW)
def test_redelivery_is_idempotent(raw):
    events = build(raw)
    assert run(events + events) == run(events)


@settings(max_examples=150, deadline=None)
@given(RAW)
def test_a_stored_state_carries_on_exactly_like_the_live_one(raw):
    """What the worker writes to its changelog and recovers after a restart is the same state."""
    events = build(raw)
    live, _ = run(events[:len(events) // 2])
    recovered = load_state(dump_state(live))
    assert recovered == live
    assert run(events[len(events) // 2:], recovered) == run(events[len(events) // 2:], live)


@settings(max_examples=150, deadline=None)
@given(RAW, st.integers(0, 60 * DAY))
def test_ledger_sums_to_the_undecayed_score_and_decay_never_raises_it(raw, later):
    state, effects = run(build(raw))
    without_decay = sum(e.points for e in state.ledger)
    current = scores(state, MODEL)
    per_rule = sum(t.at(state.clock, rule.half_life_ms) for rule in MODEL.rules
                   if (t := state.tallies.get(rule.id)) is not None)
    assert current.behaviour == pytest.approx(per_rule, abs=1e-9)  # the per-half-life sums agree with the rules
    if all(e.points >= 0 for e in state.ledger):
        assert current.total <= without_decay + 1e-6
        assert scores(state, MODEL, now=state.clock + later).total <= current.total + 1e-6
    assert effects.count("lead.promoted") <= 1 + effects.count("lead.demoted")


@settings(max_examples=150, deadline=None)
@given(RAW, st.lists(st.booleans(), min_size=30, max_size=30))
def test_merge_equals_processing_everything_under_one_identity(raw, anonymous_flags):
    """Split the events between an anonymous visitor and the known person, link them: same result as if
    every event had been the person's from the start (once-only rules, caps and decay included)."""
    events = build(raw)
    anon_events = [replace(e, prospect_key="anon:a", prospect_id=None, email=None)
                   for e, anon in zip(events, anonymous_flags) if anon]
    known_events = [e for e, anon in zip(events, anonymous_flags) if not anon]
    anonymous, _ = run(canonical_order(anon_events), ProspectState("anon:a"))
    known, _ = run(canonical_order(known_events))
    merged = merge(known, anonymous, MODEL, PID, "a@b.io")
    reference = replay(PID, canonical_order(events), MODEL)
    assert scores(merged, MODEL) == scores(reference, MODEL)
    assert merged.stage == reference.stage and merged.ledger == reference.ledger
    assert merged.segments == reference.segments and merged.profile == reference.profile


def test_a_link_hands_the_anonymous_history_over_and_later_events_follow():
    anon_events = [event(n, known=False, at=n) for n in range(1, 3)]
    anonymous, _ = run(anon_events, ProspectState("anon:a"))
    link = replace(event(5, "identity.linked", url=None, known=False, at=5), prospect_id=PID, email="a@b.io")
    linked = apply(anonymous, link, MODEL)
    [request] = linked.effects
    assert isinstance(request, MergeRequest) and list(request.inputs) == anonymous.history
    assert linked.state.alias_of == PID
    later = apply(linked.state, event(6, "email.opened", url=None, known=False, at=6), MODEL)
    [forward] = later.effects
    assert isinstance(forward, Forward) and forward.interaction.prospect_key == PID
    known, _ = run([event(9, at=9)])
    absorbed = absorb(known, request, MODEL)
    assert absorbed.state.stage == "lead" and [c.kind for c in absorbed.effects] == ["lead.promoted"]
    assert total(absorbed.state) == 63 and len(absorbed.state.history) == 3
    before = dump_state(absorbed.state)
    again = absorb(absorbed.state, request, MODEL)
    assert again.changed is False and again.effects == () and dump_state(again.state) == before


def test_a_merge_that_drops_a_lead_below_the_demotion_threshold_demotes_it():
    """Anonymous history can weigh against a lead (here a careers-page visitor): the CRM must hear it."""
    model = parse_model(BASE.replace("RECYCLE", "reset").replace("rules:\n", "rules:\n  - {id: careers, when: "
                                                                   "{type: page.viewed, url_contains: /careers}, "
                                                                   "points: -40}\n"))
    anonymous, _ = run([event(1, url="https://a.io/careers", known=False, at=1)], ProspectState("anon:a"), model)
    link = replace(event(5, "identity.linked", url=None, known=False, at=5), prospect_id=PID, email="a@b.io")
    [request] = apply(anonymous, link, model).effects
    known, effects = run([event(n, at=n) for n in range(10, 13)], model=model)
    assert known.stage == "lead" and effects == ["lead.promoted"]
    absorbed = absorb(known, request, model)
    assert [c.kind for c in absorbed.effects] == ["lead.demoted"] and absorbed.state.stage == "name"
    assert total(absorbed.state, model) == 24


@pytest.mark.parametrize("promote, kind, stage", [(90, "lead.demoted", "name"), (50, "lead.updated", "lead")])
def test_a_new_model_recomputes_the_state_from_its_history(promote, kind, stage):
    lead, _ = run([event(n, at=n) for n in range(1, 4)])
    stricter = parse_model(BASE.replace("RECYCLE", "reset").replace("promote: 50", f"promote: {promote}")
                           .replace("version: t1", "version: t2"))
    outcome = rescore(lead, stricter)
    assert [c.kind for c in outcome.effects] == [kind] and outcome.state.stage == stage
    assert outcome.state.model_version == "t2" and outcome.state.version > lead.version
    assert scores(outcome.state, stricter) == scores(replay(PID, lead.history, stricter), stricter)
    assert all(i in outcome.state.seen for i in lead.seen)  # redeliveries stay ignored


def test_a_name_promoted_by_a_looser_model():
    state, _ = run([event(1, at=1)])
    looser = parse_model(BASE.replace("RECYCLE", "reset").replace("promote: 50", "promote: 20")
                         .replace("demote: 30", "demote: 10").replace("version: t1", "version: t3"))
    outcome = rescore(state, looser)
    assert [c.kind for c in outcome.effects] == ["lead.promoted"] and outcome.state.promoted_at == 1


SLA_MODEL_TEXT_TAIL = """\
sla:
  respond_within: 4h
  business_hours: {timezone: UTC, days: [mon, tue, wed, thu, fri, sat, sun], hours: "00:00-24:00"}
  queue: first
  escalation:
    - {after: 1h, action: reroute, to: "queue:second"}
"""
SLA_MODEL = parse_model(BASE.replace("RECYCLE", "reset") + SLA_MODEL_TEXT_TAIL)
HOUR = 3_600_000


def promoted_with_clock():
    state, effects = run([event(n, at=n) for n in range(1, 4)], model=SLA_MODEL)
    assert state.stage == "lead" and state.sla is not None and state.sla.due_at == 3 + 4 * HOUR
    return state


def test_a_promotion_starts_the_response_clock_and_a_timely_verdict_meets_it():
    lead, _ = run([event(n, at=n) for n in range(1, 3)], model=SLA_MODEL)
    outcome = apply(lead, event(3, at=3), SLA_MODEL)
    assert [getattr(e, "kind") for e in outcome.effects] == ["lead.promoted", "sla.started"]
    answered = apply(outcome.state, verdict(1, "accepted", 2 * HOUR), SLA_MODEL)
    assert [e.kind for e in answered.effects] == ["lead.updated", "sla.met"] and answered.state.sla.status == "met"
    assert apply(answered.state, Tick(9 * HOUR), SLA_MODEL).effects == ()


def test_an_unanswered_lead_is_breached_and_escalated_by_ticks_dated_by_the_schedule():
    state = promoted_with_clock()
    steps = apply(state, Tick(3 + 6 * HOUR), SLA_MODEL).effects
    assert [(s.kind, s.at) for s in steps[:2]] == [("sla.breached", 3 + 4 * HOUR), ("sla.escalated", 3 + 5 * HOUR)]
    assert (steps[2].kind, steps[2].occurred_at) == ("lead.updated", 3 + 5 * HOUR)  # the reroute moved the lead
    from streams.core.leads import sla_event

    event_ = sla_event(state, steps[1])
    assert (event_.type, event_.escalation_level, event_.owner, event_.due_at) == (
        "sla.escalated", 1, "queue:second", 3 + 4 * HOUR)
    assert sla_event(state, steps[1]).event_id == event_.event_id  # a replayed step keeps its id
    assert load_state(dump_state(state)) == state  # the clock survives the changelog


def test_a_lead_waits_in_the_policy_queue_until_an_owner_takes_it_and_a_reroute_moves_it():
    state = promoted_with_clock()
    assert (state.queue, state.owner) == ("first", None)
    rerouted = apply(copy_of(state), Tick(3 + 6 * HOUR), SLA_MODEL).state
    assert (rerouted.queue, rerouted.owner) == ("queue:second", None) and rerouted.version > state.version
    assert lead_event(rerouted, apply(copy_of(state), Tick(3 + 6 * HOUR), SLA_MODEL).effects[-1],
                      SLA_MODEL).queue == "queue:second"
    taken = apply(rerouted, replace(verdict(1, "accepted", 7 * HOUR), owner="alice"), SLA_MODEL).state
    assert (taken.queue, taken.owner, taken.stage) == ("queue:second", "alice", "accepted")
    assert load_state(dump_state(taken)) == taken
    recomputed = rescore(taken, parse_model(BASE.replace("RECYCLE", "reset").replace("version: t1", "version: t9")
                                            + SLA_MODEL_TEXT_TAIL)).state
    assert (recomputed.queue, recomputed.owner) == ("queue:second", "alice")


def test_a_lead_demoted_before_anyone_answered_cancels_its_clock():
    bounces = [event(n, "email.bounced", url=None, at=n) for n in range(10, 14)]  # 63 -> 23, under 30
    state, effects = run(bounces, promoted_with_clock(), SLA_MODEL)
    assert effects[-2:] == ["lead.demoted", "sla.cancelled"] and state.sla.status == "cancelled"
    assert apply(state, Tick(9 * HOUR), SLA_MODEL).effects == ()


def test_a_recomputed_lead_keeps_the_clock_the_crm_knows():
    state = promoted_with_clock()
    clock = state.sla
    outcome = rescore(state, parse_model(BASE.replace("RECYCLE", "reset").replace("version: t1", "version: t9")
                                         + SLA_MODEL_TEXT_TAIL))
    assert [e.kind for e in outcome.effects] == ["lead.updated"] and outcome.state.sla == clock


def test_decay_alone_takes_a_lead_out_at_the_moment_its_score_falls_under_the_demotion_threshold():
    from streams.core.timers import demotion_due

    state, _ = run([event(n, at=n) for n in range(1, 4)])  # 63 points, promoted; pricing halves every 10 days
    due = demotion_due(state, MODEL)
    assert state.stage == "lead" and due is not None and 4 < due < 40 * DAY
    assert scores(state, MODEL, due - 1000).total >= 30 > scores(state, MODEL, due).total  # to the second
    assert apply(copy_of(state), Tick(due - 1000), MODEL).state.stage == "lead"
    assert apply(copy_of(state), Tick(due), MODEL).state.stage == "name"  # what the tick it earns does
    assert demotion_due(apply(copy_of(state), Tick(due), MODEL).state, MODEL) is None


def test_an_escalation_that_notifies_becomes_a_notify_action_with_a_replayable_id():
    from streams.core.leads import sla_notification

    model = parse_model(BASE.replace("RECYCLE", "reset") + SLA_MODEL_TEXT_TAIL +
                        '    - {after: 2h, action: notify, to: "boss@example.com"}\n')
    lead, _ = run([event(n, at=n) for n in range(1, 3)], model=model)
    state = apply(lead, event(3, at=3), model).state
    steps = [s for s in apply(state, Tick(3 + 7 * HOUR), model).effects if getattr(s, "kind", "") == "sla.escalated"]
    assert [(s.level, s.action) for s in steps] == [(1, "reroute"), (2, "notify")]
    assert sla_notification(state, steps[0], model) is None  # a reroute notifies nobody
    action = sla_notification(state, steps[1], model)
    assert (action.type, action.target, action.source_kind, action.due_at) == (
        "notify", "person:boss@example.com", "sla", 3 + 6 * HOUR)
    assert "past the response deadline" in action.payload["message"] and action.payload["why"].startswith("SLA")
    assert sla_notification(state, steps[1], model).action_id == action.action_id  # a replay repeats the id
