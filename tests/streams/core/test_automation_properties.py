"""Invariants of the automation engine, over random inputs, redeliveries, ticks and restarts in simulated time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core.automation_state import WEEK_MS, ActionEffect
from streams.core.automations import step
from streams.core.prospect import Tick
from streams.state_codec import dump_state, load_state
from streams.core.automation_file import parse_automations
from streams.core.automation_index import Engine
from tests.streams.core.automation_cases import DAY, ENGINE, FILE, HOUR, T0, email_event, new_state, view
from tests.streams.core.prospects import MODEL

URLS = ("https://a.io/docs", "https://a.io/pricing", "https://a.io/blog")


@st.composite
def journeys(draw):
    """Views, opens and clicks of whatever the engine sent, and worker ticks, over a few weeks."""
    moments = sorted(draw(st.lists(st.integers(0, 40 * DAY), min_size=1, max_size=25)))
    kinds = draw(st.lists(st.sampled_from(["view", "pricing", "open", "click", "tick", "unsubscribe"]),
                          min_size=len(moments), max_size=len(moments)))
    return list(zip(moments, kinds))


def input_for(n, offset, kind, state):
    """One input of a journey; opens and clicks name the newest email the state has sent (as a reader would)."""
    at = T0 + offset
    sent = state.automation.sent[-1].action_id if state.automation and state.automation.sent else "none"
    if kind in ("view", "pricing"):
        return view(n, at, URLS[1] if kind == "pricing" else URLS[n % 3])
    if kind == "tick":
        return Tick(at)
    type_ = {"open": "email.opened", "click": "email.clicked", "unsubscribe": "email.unsubscribed"}[kind]
    return email_event(n, type_, at, sent)


def run(journey, redeliver: bool = False, restart_every: int | None = None):
    """(the actions in order, the final state); ``redeliver`` sends every input twice, ``restart_every`` reloads the
    state from its serialized checkpoint and replays the inputs since (at-least-once), as a restarted worker does."""
    state, actions = new_state(), []
    checkpoint, since = dump_state(state), []
    numbered = 0  # event ids count events only, so extra ticks do not renumber them
    for offset, kind in journey:
        item = input_for(numbered, offset, kind, state)
        numbered += kind != "tick"
        for _ in range(2 if redeliver else 1):
            since.append(item)
            actions += [e.action for e in step(state, item, MODEL, ENGINE).effects if isinstance(e, ActionEffect)]
        if restart_every and len(since) >= restart_every:
            state = load_state(checkpoint)
            for again in since:  # the crash came before the checkpoint: replay
                actions += [e.action for e in step(state, again, MODEL, ENGINE).effects
                            if isinstance(e, ActionEffect)]
            checkpoint, since = dump_state(state), []
    return actions, state


@settings(max_examples=60, deadline=None)
@given(journeys())
def test_redelivery_never_repeats_an_action_and_a_replay_gives_the_same_ids(journey):
    once, _ = run(journey)
    ids = [a.action_id for a in once]
    assert len(ids) == len(set(ids))
    twice, _ = run(journey, redeliver=True)
    assert [a.action_id for a in twice] == ids
    assert [a.action_id for a in run(journey)[0]] == ids


@settings(max_examples=60, deadline=None)
@given(journeys(), st.integers(1, 4))
def test_a_restart_from_the_checkpoint_repeats_actions_with_the_same_ids_and_loses_none(journey, every):
    straight, final = run(journey)
    restarted, recovered = run(journey, restart_every=every)
    assert {a.action_id for a in restarted} == {a.action_id for a in straight}
    assert [(a.action_id, a.occurred_at, a.due_at) for a in dict((a.action_id, a) for a in restarted).values()] == \
        [(a.action_id, a.occurred_at, a.due_at) for a in straight]
    assert recovered == final


@settings(max_examples=60, deadline=None)
@given(journeys())
def test_no_prospect_gets_more_marketing_emails_in_a_week_than_the_cap(journey):
    actions, _ = run(journey)
    sent = sorted(a.occurred_at for a in actions if a.type == "send_email" and a.payload["transactional"] == "false")
    cap = ENGINE.file.defaults.marketing_emails_per_week
    assert all(sum(1 for t in sent if start <= t < start + WEEK_MS) <= cap for start in sent)


@settings(max_examples=60, deadline=None)
@given(journeys(), st.integers(0, 6 * DAY))
def test_an_exit_stops_the_program_before_its_next_step(journey, promoted_after):
    """Promoted (three pricing views in an hour) at any moment: no program action is dated after it."""
    moment = promoted_after + 2 * HOUR
    pricing = [(moment + n * 60_000, "pricing") for n in range(3)]
    actions, state = run(sorted([*journey, *pricing]))
    run_ = state.automation.enrollments["nurture"]
    if run_.status == "exited" and run_.reason == "promoted":
        assert all(a.occurred_at <= run_.ended_at for a in actions if a.source == "nurture")


@settings(max_examples=40, deadline=None)
@given(journeys(), st.lists(st.integers(0, 50 * DAY), max_size=8))
def test_a_timer_fires_once_whenever_and_however_often_the_worker_ticks(journey, ticks):
    """Ticks are the worker's clock and arrive when they arrive: extra ones change nothing a program does."""
    bare = [(o, k) for o, k in journey if k != "tick"]
    end = [(60 * DAY, "tick")]
    plain, _ = run(sorted([*bare, *end]))
    ticked, _ = run(sorted([*bare, *((t, "tick") for t in ticks), *end]))
    key = lambda actions: sorted((a.action_id, a.occurred_at) for a in actions if a.source_kind == "program")  # noqa
    assert key(ticked) == key(plain)
    assert len({a.action_id for a in ticked}) == len(ticked)


COOLING = Engine(parse_automations(
    FILE.replace("automations:\n", "automations:\n  - id: cooling\n    trigger: {score: behaviour, below: 30}\n"
                 "    actions: [{tag: cooling}]\n    frequency: every_time\n", 1),
    "t.yaml", frozenset({"one", "two", "three", "resend"})), MODEL)


@settings(max_examples=40, deadline=None)
@given(journeys(), st.lists(st.integers(0, 50 * DAY), max_size=8))
def test_a_decay_crossing_fires_at_the_same_moment_with_the_same_id_however_the_worker_ticks(journey, ticks):
    bare = [(o, k) for o, k in journey if k != "tick"]
    end = [(60 * DAY, "tick")]

    def cooling(entries):
        state, out = new_state(), []
        numbered = 0
        for offset, kind in sorted(entries):
            item = input_for(numbered, offset, kind, state)
            numbered += kind != "tick"
            out += [(e.action.action_id, e.action.occurred_at) for e in step(state, item, MODEL, COOLING).effects
                    if isinstance(e, ActionEffect) and e.action.source == "cooling"]
        return out

    plain = cooling([*bare, *end])
    assert cooling([*bare, *((t, "tick") for t in ticks), *end]) == plain
    assert len(set(plain)) == len(plain)
