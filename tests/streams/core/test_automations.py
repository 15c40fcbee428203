"""The automation engine: triggers, conditions, frequency, programs, quiet hours, caps and timers."""

from __future__ import annotations

import pytest

from streams.core.automation_file import parse_automations
from streams.core.automation_index import Engine
from streams.core.automation_state import ProgramChange, Suppressed
from streams.core.automations import step
from streams.core.timers import next_due
from streams.core.yaml_lines import ModelError
from streams.state_codec import dump_state, load_state
from tests.streams.core.automation_cases import (DAY, ENGINE, FILE, HOUR, T0, Tick, email_event, feed, new_state,
                                                 verdict, view)
from tests.streams.core.prospects import MODEL, PID


def first_email(state):
    return next(e for e in state.automation.sent if e.step == "first")


def test_a_new_known_name_enters_the_program_and_gets_its_first_email_at_once():
    state = new_state()
    actions = feed(state, [view(1, T0)])
    assert [(a.type, a.source, a.source_kind, a.step, a.target) for a in actions] == [
        ("send_email", "nurture", "program", "first", "one")]
    action = actions[0]
    assert action.prospect_id == PID and action.email == "ada@b.io" and action.due_at == action.occurred_at == T0
    assert action.cause_event_id == "e1" and action.file_version == "test-1"
    assert next_due(state, MODEL, ENGINE) == T0 + 3 * DAY  # the wait
    assert [(j.kind, j.detail) for j in state.automation.journal] == [
        ("program.enrolled", "entered (became a known name)"), ("action", "send_email one (step first)"),
        ("program.step", "2: wait 3d")]


def test_a_wait_runs_its_next_steps_when_its_time_comes_dated_by_the_schedule_not_the_tick():
    state = new_state()
    feed(state, [view(1, T0)])
    assert feed(state, [Tick(T0 + 3 * DAY - 1)]) == []
    late = feed(state, [Tick(T0 + 4 * DAY)])  # a worker down for a day runs the step once, at its own time
    assert [(a.step, a.occurred_at) for a in late] == [("second", T0 + 3 * DAY)]
    assert feed(state, [Tick(T0 + 4 * DAY + 1)]) == []
    outcome = step(state, Tick(T0 + 9 * DAY), MODEL, ENGINE)  # the third is one over the weekly cap of 2
    assert outcome.effects == (Suppressed("send_email", "weekly_cap"), ProgramChange("nurture", "exhausted", ""))
    run = state.automation.enrollments["nurture"]
    assert run.status == "exhausted" and run.ended_at == T0 + 5 * DAY  # through every step, no email opened


def test_a_click_on_the_first_email_takes_the_branch_to_exit_and_completes_the_program():
    state = new_state()
    feed(state, [view(1, T0)])
    message = first_email(state).action_id
    feed(state, [email_event(1, "email.opened", T0 + HOUR, message), email_event(2, "email.clicked", T0 + 2 * HOUR,
                                                                                 message)])
    assert feed(state, [Tick(T0 + 3 * DAY)]) == []
    assert state.automation.enrollments["nurture"].status == "completed"


def test_opened_but_not_clicked_within_the_window_sends_the_resend_once_the_window_ends():
    engine = Engine(parse_automations(FILE.replace("marketing_emails_per_week: 2", "marketing_emails_per_week: 5"),
                                      "t.yaml", frozenset({"one", "two", "three", "resend"})), MODEL)
    state = new_state()
    feed(state, [view(1, T0)], engine)
    feed(state, [email_event(1, "email.opened", T0 + HOUR, first_email(state).action_id)], engine)
    actions = feed(state, [Tick(T0 + 3 * DAY)], engine)
    assert {(a.source, a.target, a.occurred_at) for a in actions} == {
        ("resend", "resend", T0 + 3 * DAY), ("nurture", "two", T0 + 3 * DAY)}


def test_promotion_exits_the_program_before_its_next_step_and_tells_sales_with_a_task_due_in_business_time():
    state = new_state()
    feed(state, [view(1, T0)])
    pricing = [view(n, T0 + n * HOUR, "https://a.io/pricing") for n in range(2, 5)]
    actions = feed(state, pricing)
    promoted = [a for a in actions if a.source == "to-sales"]
    assert [a.type for a in promoted] == ["notify", "crm_task"]
    notify, task = promoted
    assert notify.target == "queue:sdr" and "promoted" in notify.payload["message"] and \
        notify.payload["why"] == "stage promoted" and notify.payload["who"] == "ada@b.io"
    assert notify.occurred_at == T0 + 4 * HOUR  # the third pricing view, Monday 12:00
    assert int(task.payload["task_due_at"]) == T0 + 8 * HOUR  # 4 business hours later
    assert state.automation.enrollments["nurture"].status == "exited"
    assert state.automation.enrollments["nurture"].reason == "promoted"
    assert feed(state, [Tick(T0 + 30 * DAY)]) == [] or all(a.source != "nurture" for a in feed(state, []))


def test_a_count_trigger_fires_on_the_second_view_within_a_day_and_its_frequency_holds_it_to_once_a_week():
    state = new_state()
    feed(state, [view(1, T0)])
    views = [view(n, T0 + n * 1000, "https://a.io/pricing/x") for n in range(2, 4)]
    engine = Engine(parse_automations(FILE.replace("count: 2", "count: 2").replace("points: 20", "points: 20"),
                                      "t.yaml", frozenset({"one", "two", "three", "resend"})), MODEL)
    fired = [a for a in feed(state, views, engine) if a.source == "pricing-twice"]
    assert [a.target for a in fired] == ["channel:#signals"]
    again = [view(n, T0 + DAY + n * 1000, "https://a.io/pricing/y") for n in range(5, 9)]
    assert [a for a in feed(state, again, engine) if a.source == "pricing-twice"] == []


def test_an_email_due_in_quiet_hours_waits_for_their_end_in_the_prospects_time_zone():
    state = new_state()
    late_evening_in_berlin = T0 + 13 * HOUR  # 21:00 UTC = 22:00 in Berlin
    outcome = step(state, view(1, late_evening_in_berlin, traits={"timezone": "Europe/Berlin"}), MODEL, ENGINE)
    assert not [e for e in outcome.effects if type(e).__name__ == "ActionEffect"]
    deferred = state.automation.deferred[0]
    assert deferred.due_at == T0 + DAY - 2 * HOUR  # 07:00 Berlin = 06:00 UTC the next day
    assert next_due(state, MODEL, ENGINE) == deferred.due_at
    sent = feed(state, [Tick(T0 + 2 * DAY)])
    assert [(a.target, a.due_at, a.occurred_at) for a in sent] == [("one", deferred.due_at, deferred.due_at)]


def test_unsubscribing_suppresses_every_later_email_and_exits_the_program():
    state = new_state()
    feed(state, [view(1, T0)])
    outcome = step(state, email_event(1, "email.unsubscribed", T0 + HOUR, first_email(state).action_id), MODEL,
                   ENGINE)
    assert ProgramChange("nurture", "exited", "unsubscribed") in outcome.effects
    assert state.automation.suppressed == "unsubscribed"
    assert feed(state, [Tick(T0 + 10 * DAY)]) == []


def test_the_weekly_cap_suppresses_marketing_emails_beyond_it_and_says_why():
    state = new_state()
    feed(state, [view(1, T0)])
    feed(state, [email_event(1, "email.opened", T0 + HOUR, first_email(state).action_id)])
    outcome = step(state, Tick(T0 + 3 * DAY), MODEL, ENGINE)  # resend and second: 3 in a week, cap 2
    assert Suppressed("send_email", "weekly_cap") in outcome.effects
    assert any(j.kind == "action.suppressed" and "weekly_cap" in j.detail for j in state.automation.journal)


def test_inactivity_fires_once_per_quiet_period():
    state = new_state()
    feed(state, [view(1, T0), email_event(1, "email.clicked", T0 + 1, "x")])
    tagged = [a for a in feed(state, [Tick(T0 + 40 * DAY)]) if a.source == "quiet"]
    assert [(a.type, a.target, a.occurred_at) for a in tagged] == [("tag", "dormant", T0 + 1 + 30 * DAY)]
    assert [a for a in feed(state, [Tick(T0 + 80 * DAY)]) if a.source == "quiet"] == []
    assert "tag:dormant" in __import__("streams.core.prospect", fromlist=["scores"]).scores(state, MODEL).dimensions


def test_a_lost_lead_is_recycled_and_stage_triggers_see_it():
    text = FILE.replace("trigger: {stage: promoted}", "trigger: {stage: [promoted, lost]}")
    engine = Engine(parse_automations(text, "t.yaml", frozenset({"one", "two", "three", "resend"})), MODEL)
    state = new_state()
    feed(state, [view(n, T0 + n * HOUR, "https://a.io/pricing") for n in range(1, 4)], engine)
    lost = feed(state, [verdict(1, "lost", T0 + DAY)], engine)
    assert [(a.source, a.type, a.payload.get("why")) for a in lost][:1] == [("to-sales", "notify", "stage lost")]


def test_anonymous_visitors_run_no_automations():
    from streams.core.prospect import ProspectState
    from tests.streams.core.prospects import event

    state = ProspectState("anon:a")
    outcome = step(state, event(1, known=False), MODEL, ENGINE)
    assert state.automation is None and not [e for e in outcome.effects if type(e).__name__ == "ActionEffect"]


def test_the_engine_state_survives_the_changelog():
    state = new_state()
    feed(state, [view(1, T0), email_event(1, "email.opened", T0 + HOUR, "nope"), Tick(T0 + 13 * HOUR)])
    assert load_state(dump_state(state)) == state


@pytest.mark.parametrize("text, message", [
    (FILE.replace("{stage: [name]}", "{segment: nobody}"), "test.yaml:30: program 'nurture': unknown segment "
                                                          "'nobody'; the scoring model t1 defines: pricing-visitors"),
    (FILE.replace("actions: [{tag: dormant}]", "actions: [{tag: dormant}]\n  - id: hot\n    trigger: {score: "
                  "{dimension: heat}, above: 5}\n    actions: [{tag: hot}]"),
     "unknown score dimension 'heat'"),
])
def test_the_file_is_checked_against_the_scoring_model_on_load(text, message):
    with pytest.raises(ModelError, match=message.replace("(", r"\(").replace("[", r"\[")):
        Engine(parse_automations(text, "test.yaml"), MODEL, "test.yaml")


def test_a_send_email_naming_a_missing_template_fails_on_load_with_file_line_and_automation():
    with pytest.raises(ModelError, match=r"test.yaml:\d+: automation 'resend': send_email: unknown template "
                                         r"'resend'; the templates directory next to the file has: one, three, two"):
        parse_automations(FILE, "test.yaml", frozenset({"one", "two", "three"}))


def test_every_kind_of_condition_has_its_test():
    from typing import get_args

    from streams.core import automation_model as m
    from streams.core.automation_actions import _TESTS
    assert set(_TESTS) == set(get_args(m.Condition))


def test_automations_counts_what_ran_and_a_dry_run_replays_a_candidate_file():
    from streams.core.automation_report import counts, dry_run

    state = new_state()
    feed(state, [view(1, T0), *[view(n, T0 + n * HOUR, "https://a.io/pricing") for n in range(2, 5)]])
    tally = counts([state])
    assert tally.enrolled["nurture"] == 1 and tally.ended[("nurture", "exited", "promoted")] == 1
    assert tally.actions[("to-sales", "notify")] == 1 and tally.actions[("nurture", "send_email")] == 1
    text = tally.render(ENGINE, "automations")
    assert "to-sales" in text and "promoted 1" in text
    candidate = Engine(parse_automations(FILE.replace("frequency: every_time", "frequency: every_time\n"
                                                      "    conditions: [{stage: [won]}]"),
                                         "c.yaml", frozenset({"one", "two", "three", "resend"})), MODEL)
    replayed = dry_run([state], candidate, T0 + 40 * DAY)
    assert replayed.actions[("to-sales", "notify")] == 0 and replayed.enrolled["nurture"] == 1
    assert replayed.actions[("quiet", "tag")] == 0  # promoted: a lead, not a name, when 30 days pass



@pytest.mark.parametrize("goal, input_type, traits", [
    ('{attribute: customer, equals: "yes"}', "profile.updated", {"customer": "yes"}),  # an identify, no points
    ("{segment: attendees}", "webinar.attended", {}),  # a segment no rule scores
])
def test_a_goal_met_by_an_input_that_scores_nothing_exits_the_program_then_not_at_the_next_step(goal, input_type,
                                                                                                 traits):
    """Exit criteria are checked after every input: an input that makes Ada a customer, or puts her in a segment,
    without a point (nothing a trigger watches) must still end the run then, dated by that input."""
    from schemas.records import Interaction
    from streams.core.model import parse_model
    from tests.streams.core.prospects import BASE, PID

    model = parse_model(BASE.replace("RECYCLE", "reset") + "  - {id: attendees, when: {type: webinar.attended}}\n")
    text = FILE.replace("exit: [promoted, unsubscribed, hard_bounce, complaint]",
                        f"exit: [promoted, {{goal: [{goal}]}}]")
    engine = Engine(parse_automations(text, "t.yaml", frozenset({"one", "two", "three", "resend"})), model)
    state = new_state()
    step(state, view(1, T0), model, engine)
    meets = Interaction(event_id="u1", prospect_key=PID, prospect_id=PID, email="ada@b.io", type=input_type,
                        occurred_at=T0 + HOUR, received_at=T0 + HOUR, source="test", traits=traits)
    outcome = step(state, meets, model, engine)
    assert ProgramChange("nurture", "exited", "goal") in outcome.effects
    run = state.automation.enrollments["nurture"]
    assert (run.status, run.reason, run.ended_at) == ("exited", "goal", T0 + HOUR)
    assert not [e for e in step(state, Tick(T0 + 3 * DAY), model, engine).effects if type(e).__name__ == "ActionEffect"]


def test_a_backfilled_input_scores_but_fires_nothing_and_an_old_unsubscribe_still_counts():
    from dataclasses import replace

    state = new_state()
    old = replace(view(1, T0 - 30 * DAY), received_at=T0)  # an import of last month's activity
    assert feed(state, [old]) == [] and state.automation.enrollments == {}
    assert state.clock == T0 - 30 * DAY and state.history  # scored and kept like any input
    state = new_state()
    feed(state, [view(1, T0)])
    late = replace(email_event(1, "email.unsubscribed", T0 - 3 * DAY, "x"), received_at=T0 + HOUR)
    outcome = step(state, late, MODEL, ENGINE)
    assert ProgramChange("nurture", "exited", "unsubscribed") in outcome.effects


def test_the_timeline_shows_what_the_automations_did_after_the_input_that_caused_it():
    from streams.core.explain import as_json

    state = new_state()
    feed(state, [view(1, T0)])
    entries = [(e["type"], e["source"], e["event_id"]) for e in as_json(state, MODEL)["timeline"]]
    action_id = state.automation.sent[0].action_id
    assert entries == [("page.viewed", "test", "e1"), ("program.enrolled", "nurture", "e1"),
                       ("action", "nurture", action_id), ("program.step", "nurture", "e1")]


def test_decay_alone_crossing_a_value_fires_at_that_moment_once_however_the_worker_ticks():
    from streams.core.prospect import scores

    text = FILE.replace("automations:\n", "automations:\n  - id: cooling\n    trigger: {score: behaviour, below: 30}\n"
                        "    actions: [{tag: cooling}]\n    frequency: every_time\n", 1)
    engine = Engine(parse_automations(text, "t.yaml", frozenset({"one", "two", "three", "resend"})), MODEL)
    pricing = [view(n, T0 + n * 60_000, "https://a.io/pricing") for n in range(1, 4)]  # 63 points, 60 decaying

    def run(ticks):
        state = new_state()
        fired = [a for a in feed(state, [*pricing, *map(Tick, ticks)], engine) if a.source == "cooling"]
        return state, [(a.action_id, a.occurred_at) for a in fired]

    state, fired = run([T0 + 40 * DAY])
    [(_, crossed_at)] = fired
    before, _ = run([])  # the scores as of the last view, evaluated later
    assert scores(before, MODEL, crossed_at - 1000).behaviour >= 30 > scores(before, MODEL, crossed_at).behaviour
    assert 11 * DAY < crossed_at - T0 < 12 * DAY  # 60 * 0.5 ** (t / 10d) + 3 < 30
    assert run([T0 + n * DAY for n in range(1, 41)])[1] == fired  # a tick a day: the same, once
    assert feed(state, [Tick(T0 + 80 * DAY)], engine) == []  # under it stays: no second crossing
    # new points lift it again; the next descent is a new crossing
    again = [a for a in feed(state, [view(9, T0 + 81 * DAY, "https://a.io/pricing"),
                                     view(10, T0 + 81 * DAY + 1, "https://a.io/pricing"),
                                     Tick(T0 + 120 * DAY)], engine) if a.source == "cooling"]
    assert len(again) == 1 and again[0].occurred_at > T0 + 81 * DAY


def test_a_send_time_refusal_from_the_delivery_is_a_journal_line_not_an_interaction():
    state = new_state()
    action = feed(state, [view(1, T0)])[0]
    activity, version, total = state.last_activity_at, state.version, len(state.ledger)
    report = email_event(9, "action.suppressed", T0 + HOUR, action.action_id,
                         properties={"type": "send_email", "target": "one", "source": "nurture",
                                     "reason": "unsubscribed"})
    outcome = step(state, report, MODEL, ENGINE)
    assert outcome.changed and outcome.effects == ()
    assert (state.last_activity_at, len(state.ledger)) == (activity, total) and state.version == version
    last = state.automation.journal[-1]
    assert (last.kind, last.source, last.detail, last.action_id) == (
        "action.suppressed", "nurture", "send_email one: unsubscribed (at send time)", action.action_id)
    assert step(state, report, MODEL, ENGINE).changed is False  # a redelivered report is seen once
