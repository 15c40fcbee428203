from datetime import time
from pathlib import Path

import pytest

from schemas.records import Interaction
from streams.core import automation_model as m
from streams.core.automation_file import load_automations, parse_automations
from streams.core.yaml_lines import ModelError

SHIPPED = Path(__file__).resolve().parents[3] / "leadflow" / "models" / "automations.yaml"


def view(url: str) -> Interaction:
    return Interaction(event_id="e", prospect_key="p", type="page.viewed", occurred_at=0, received_at=0, source="t",
                       url=url)


def test_the_shipped_example_loads_and_covers_issue_15s_list():
    f = load_automations(SHIPPED)
    assert f.version == "automations-1"
    assert f.defaults.quiet_hours == m.QuietHours(time(21), time(8)) and f.defaults.marketing_emails_per_week == 3
    autos = {a.id: a for a in f.automations}
    programs = {p.id: p for p in f.programs}
    # a welcome program for new known names that are not sales-ready
    welcome = programs["welcome"]
    assert m.Known() in welcome.conditions and m.StageIn(frozenset({"name"})) in welcome.conditions
    # a notification plus a sales task when a lead is promoted
    promoted = autos["promoted-to-sales"]
    assert promoted.trigger == m.StageTrigger(frozenset({"promoted"}))
    assert [type(a) for a in promoted.actions] == [m.Notify, m.CrmTask]
    assert promoted.actions[1].due == m.Span(4 * 3_600_000, business=True)
    # a notification when a known prospect views the pricing page twice in a day
    pricing = autos["pricing-twice"]
    assert pricing.trigger.count == 2 and pricing.trigger.within_ms == 86_400_000
    assert pricing.trigger.condition.matches(view("https://a.io/pricing")) and m.Known() in pricing.conditions
    # a resend to those who opened but did not click
    resend = autos["welcome-resend"]
    assert resend.trigger == m.EmailOutcomeTrigger("welcome", "opened_not_clicked", "welcome-email", 3 * 86_400_000)
    assert isinstance(resend.actions[0], m.SendEmail)
    # a recycle program that disqualified and lost leads enter
    assert programs["recycle"].entry == m.StageTrigger(frozenset({"disqualified", "lost"}))
    assert programs["recycle"].reenroll == m.Reenroll("after", 90 * 86_400_000)


def test_a_missing_file_names_it(tmp_path):
    with pytest.raises(ModelError, match="nope.yaml: cannot read automation file"):
        load_automations(tmp_path / "nope.yaml")


EVERYTHING = """\
version: 7
defaults:
  timezone: America/New_York
  quiet_hours: "22:30-07:00"
  marketing_emails_per_week: 2
  business_hours: {days: [mon, tue], hours: "08:00-12:00"}
automations:
  - id: i
    trigger: {interaction: {type: form.submitted, form_id: demo}}
    actions: [{notify: owner}]
    frequency: every_time
  - id: named
    trigger: {interaction: {event: Cart Abandoned}, count: 3, within: 2h}
    actions: [{webhook: "http://hooks.local/x"}]
    frequency: {at_most: 2, per: 1d}
  - id: score-down
    trigger: {score: behaviour, below: 10}
    actions: [{untag: hot}]
  - id: fit-up
    trigger: {score: fit, above: 20}
    actions: [{points: -5}]
  - id: seg
    trigger: {segment: pricing-visitors, change: left}
    actions: [{unenroll: p}]
  - id: stages
    trigger: {stage: [accepted, contacted, won, recycled, demoted]}
    actions: [{notify: {person: ada@example.com}, message: "{profile.first_name} {{literal}}"}]
  - id: sla
    trigger: {sla: [breached, escalated]}
    actions: [{crm_task: "Escalate", due: 2d, to: {channel: "#mgr"}}]
  - id: outcome
    trigger: {email_outcome: clicked, program: p}
    actions: [{set_attribute: warm, value: "yes"}]
  - id: idle
    trigger: {inactivity: 2w}
    conditions:
      - {attribute: country, in: [DE, AT]}
      - {stage: nurture}
      - {segment: s}
      - {not_segment: t}
      - {tag: a}
      - {not_tag: b}
      - {score: {dimension: product-x}, at_least: 1, below: 5}
      - {consent: email}
      - known
      - not_suppressed
    actions: [{enroll: p}]
programs:
  - id: p
    steps:
      - {id: first, send_email: t1, data: {coupon: X1}}
      - wait: {business: 1d}
      - {branch: {if: opened, then: last}}
      - {branch: {if: not_clicked, then: exit}}
      - tag: x
      - {id: last, notify: {queue: q}}
    exit: [complaint, {goal: {tag: customer}}]
    reenroll: always
    priority: -1
"""


def test_every_construct_parses():
    f = parse_automations(EVERYTHING)
    assert f.version == "7"
    d = f.defaults
    assert d.timezone == "America/New_York" and d.business_hours.timezone == "America/New_York"
    assert d.business_hours.days == frozenset({0, 1}) and d.business_hours.opens == time(8)
    assert d.quiet_hours.covers(time(23)) and d.quiet_hours.covers(time(6, 59)) and not d.quiet_hours.covers(time(7))
    a = {x.id: x for x in f.automations}
    assert a["i"].frequency == m.EVERY_TIME and a["seg"].frequency == m.ONCE
    assert a["named"].trigger.condition.event == "cart abandoned" and a["named"].trigger.count == 3
    assert a["named"].frequency == m.Frequency("at_most", 2, 86_400_000)
    assert a["score-down"].trigger == m.ScoreTrigger("behaviour", None, None, 10.0)
    assert a["fit-up"].actions == (m.Points(-5.0),)
    assert a["seg"].trigger == m.SegmentTrigger("pricing-visitors", "left") and a["seg"].actions == (m.Unenroll("p"),)
    assert a["stages"].trigger.changes == {"accepted", "contacted", "won", "recycled", "demoted"}
    assert a["stages"].actions[0] == m.Notify(m.Recipient("person", "ada@example.com"), "{profile.first_name} {{literal}}")
    assert a["sla"].actions[0] == m.CrmTask("Escalate", m.Span(2 * 86_400_000), m.Recipient("channel", "#mgr"))
    assert a["outcome"].trigger == m.EmailOutcomeTrigger("p", "clicked")
    assert a["outcome"].actions == (m.SetAttribute("warm", "yes"),)
    conditions = a["idle"].conditions
    assert conditions[0].condition.matches({"country": "AT"}) and not conditions[0].condition.matches({"country": "FR"})
    assert conditions[1:] == (m.StageIn(frozenset({"nurture"})), m.SegmentTest("s", True), m.SegmentTest("t", False),
                              m.TagTest("a", True), m.TagTest("b", False), m.ScoreRange("dimension", "product-x", 1, 5),
                              m.Consent("email"), m.Known(), m.NotSuppressed())
    assert a["idle"].trigger == m.InactivityTrigger(14 * 86_400_000)
    (p,) = f.programs
    assert [s.label for s in p.steps] == ["first", "2", "3", "4", "5", "last"]
    assert p.steps[0].do == m.SendEmail("t1", (("coupon", "X1"),))
    assert p.steps[1].do == m.Wait(m.Span(86_400_000, business=True))
    assert p.steps[2].do == m.Branch("opened", "last") and p.steps[3].do == m.Branch("not_clicked", "exit")
    assert p.steps[5].do == m.Notify(m.Recipient("queue", "q"))
    assert p.exits == (m.ExitCriterion("complaint"), m.ExitCriterion("goal", (m.TagTest("customer", True),)))
    assert p.reenroll == m.Reenroll("always") and p.priority == -1 and p.entry is None
    assert f.program("p") is p and f.program("nope") is None


def broken(yaml: str) -> str:
    with pytest.raises(ModelError) as caught:
        parse_automations(yaml, "auto.yaml")
    return str(caught.value)


def one(body: str, programs: str = "") -> str:
    """A file with one automation 'a' whose body follows its id (line 4 onwards)."""
    return f"version: v1\nautomations:\n  - id: a\n{body}" + (f"programs:\n{programs}" if programs else "")


PROGRAM_P = "  - id: p\n    steps: [{send_email: t}]\n"


@pytest.mark.parametrize("text, expected", [
    # unknown keys, at every level
    ("version: v1\nautomationz: []\n", "auto.yaml:1: automation file: unknown key(s) automationz"),
    (one("    trigger: {stage: won}\n    actions: [{tag: x}]\n    colour: red\n"),
     "auto.yaml:3: automation 'a': unknown key(s) colour"),
    (one("    trigger: {stage: won, within: 1d}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': stage: unknown key(s) within"),
    (one("    trigger: {interaction: {type: page.viewed, colour: x}}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': unknown condition(s) colour"),
    # unknown trigger, action and condition types
    (one("    trigger: {pageview: x}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': unknown trigger type (pageview); known: interaction, score"),
    (one("    trigger: {stage: won, sla: breached}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': a trigger has exactly one type, got stage, sla"),
    (one("    trigger: {stage: won}\n    actions:\n      - {sms: hello}\n"),
     "auto.yaml:6: automation 'a': unknown action type (sms); known: notify"),
    (one("    trigger: {stage: won}\n    conditions: [vip]\n    actions: [{tag: x}]\n"),
     "auto.yaml:3: automation 'a': unknown condition type 'vip'"),
    (one("    trigger: {stage: won}\n    conditions: [{country: DE}]\n    actions: [{tag: x}]\n"),
     "auto.yaml:5: automation 'a': unknown condition type (country)"),
    (one("    trigger: {stage: promoteded}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': stage must be one or a list of promoted"),
    (one("    trigger: {interaction: {type: page.view}}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': unknown interaction type 'page.view'"),
    (one("    trigger: {interaction: {type: page.viewed}, count: 2}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': interaction: count and within go together"),
    (one("    trigger: {score: total}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': score: give exactly one of above"),
    (one("    trigger: {email_outcome: not_opened, program: p}\n    actions: [{tag: x}]\n", PROGRAM_P),
     "auto.yaml:4: automation 'a': email_outcome: not_opened needs a window"),
    (one("    trigger: {stage: won}\n    actions:\n      - {notify: owner, message: \"{emial} did it\"}\n"),
     "auto.yaml:6: automation 'a': notify: unknown placeholder {emial}"),
    (one("    trigger: {stage: won}\n    actions:\n      - {notify: owner, message: \"{profile.__init__.__globals__}\"}\n"),
     "auto.yaml:6: automation 'a': notify: unknown placeholder {profile.__init__.__globals__}"),
    (one("    trigger: {stage: won}\n    actions:\n      - {notify: owner, message: \"{email.__class__}\"}\n"),
     "auto.yaml:6: automation 'a': notify: unknown placeholder {email.__class__}"),
    (one("    trigger: {stage: won}\n    actions:\n      - {notify: owner, message: \"{score:>10}\"}\n"),
     "auto.yaml:6: automation 'a': notify: unknown placeholder {score:>10}"),
    (one("    trigger: {stage: won}\n    actions:\n      - {notify: {slack: x}}\n"),
     "auto.yaml:6: automation 'a': notify must be owner, {queue: <name>}"),
    (one("    trigger: {stage: won}\n    actions:\n      - {webhook: ftp://x}\n"),
     "auto.yaml:6: automation 'a': webhook: 'ftp://x' is not an http(s) URL"),
    (one("    trigger: {stage: won}\n    actions:\n      - {webhook: \"http://[\"}\n"),
     "auto.yaml:6: automation 'a': webhook: 'http://[' is not an http(s) URL"),
    (one("    trigger: {stage: won}\n    actions: [{tag: x}]\n    frequency: twice\n"),
     "auto.yaml:3: automation 'a': frequency must be once, every_time or {at_most: 1, per: 1d}"),
    # a wait/duration without a unit
    (one("    trigger: {inactivity: 30}\n    actions: [{tag: x}]\n"),
     "auto.yaml:4: automation 'a': inactivity: 30 is not a duration; use e.g. 45s"),
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - send_email: t\n      - wait: 3\n",
     "auto.yaml:6: program 'p': step '2': wait: 3 is not a duration"),
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - crm_task: x\n        due: {business: 4}\n",
     "auto.yaml:6: program 'p': step '1': crm_task.due.business: 4 is not a duration"),
    # bad quiet hours, bad time zone
    ("version: v1\ndefaults:\n  quiet_hours: \"21:00-21:00\"\n" + "programs:\n" + PROGRAM_P,
     "auto.yaml:3: defaults.quiet_hours must look like \"21:00-08:00\""),
    ("version: v1\ndefaults:\n  quiet_hours: \"25:00-08:00\"\n" + "programs:\n" + PROGRAM_P,
     "auto.yaml:3: defaults.quiet_hours must look like"),
    ("version: v1\ndefaults:\n  timezone: Mars/Olympus\n" + "programs:\n" + PROGRAM_P,
     "auto.yaml:3: defaults.timezone: unknown time zone 'Mars/Olympus'"),
    ("version: v1\ndefaults:\n  business_hours: {hours: 9-5}\n" + "programs:\n" + PROGRAM_P,
     "auto.yaml:3: defaults.business_hours.hours must look like"),
    # duplicate ids
    ("version: v1\nprograms:\n" + PROGRAM_P + PROGRAM_P, "auto.yaml:5: program 'p': duplicate id (first defined on line 3)"),
    (one("    trigger: {stage: won}\n    actions: [{tag: x}]\n", "  - id: a\n    steps: [{send_email: t}]\n"),
     "auto.yaml:7: program 'a': id already used by the automation on line 3"),
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - {id: s, send_email: t}\n      - {id: s, tag: x}\n",
     "auto.yaml:6: program 'p': step 's': duplicate step id (first on line 5)"),
    # unknown program in enroll / unenroll / email outcomes
    (one("    trigger: {stage: won}\n    actions:\n      - enroll: nurture\n", PROGRAM_P),
     "auto.yaml:6: automation 'a': enroll names unknown program 'nurture'; programs: p"),
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - send_email: t\n      - unenroll: q\n",
     "auto.yaml:6: program 'p': step '2': unenroll names unknown program 'q'"),
    (one("    trigger: {email_outcome: opened, program: q}\n    actions: [{tag: x}]\n", PROGRAM_P),
     "auto.yaml:3: automation 'a': email_outcome of unknown program 'q'"),
    (one("    trigger: {email_outcome: opened, program: p, step: nope}\n    actions: [{tag: x}]\n", PROGRAM_P),
     "auto.yaml:3: automation 'a': email_outcome step 'nope' is not a send_email step of program 'p'"),
    # branch to an unknown step label, backwards, or with no email before it
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - send_email: t\n      - branch: {if: opened, then: later}\n",
     "auto.yaml:6: program 'p': step '2': branch to unknown step 'later'; later steps: none (or exit)"),
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - {id: s, send_email: t}\n      - branch: {if: opened, then: s}\n",
     "auto.yaml:6: program 'p': step '2': branch to an earlier step (branches only jump forward) 's'"),
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - wait: 1d\n      - branch: {if: opened, then: exit}\n",
     "auto.yaml:6: program 'p': step '2': a branch needs an earlier send_email step"),
    ("version: v1\nprograms:\n  - id: p\n    steps:\n      - send_email: t\n      - branch: {if: bounced, then: exit}\n",
     "auto.yaml:6: program 'p': step '2': branch.if must be one of opened, clicked"),
    # programs' own keys
    ("version: v1\nprograms:\n  - id: p\n    steps: [{send_email: t}]\n    exit: [bored]\n",
     "auto.yaml:3: program 'p': unknown exit criterion 'bored'"),
    ("version: v1\nprograms:\n  - id: p\n    steps: [{send_email: t}]\n    reenroll: sometimes\n",
     "auto.yaml:3: program 'p': reenroll must be never, always or {after: 30d}"),
    ("version: v1\nprograms:\n  - id: p\n    steps: []\n", "auto.yaml:3: program 'p': 'steps' must be a non-empty list"),
    ("version: v1\nprograms:\n  - id: p\n    entry: {stage: nope}\n    steps: [{tag: x}]\n",
     "auto.yaml:4: program 'p': entry: stage must be one or a list of"),
    ("automations: []\n", "auto.yaml:1: 'version' is required"),
    ("version: v1\n", "auto.yaml:1: the file defines no automations and no programs"),
    ("version: v1\nautomations: [\n", "auto.yaml:3: not valid YAML"),
])
def test_each_error_names_the_file_the_line_and_the_item(text, expected):
    assert expected in broken(text)


CYCLE = """\
version: v1
programs:
  - id: a
    steps:
      - send_email: t
      - enroll: b
  - id: b
    steps:
      - {id: mail, send_email: t}
  - id: c
    entry: {email_outcome: clicked, program: b, step: mail}
    steps:
      - enroll: a
"""


def test_a_cycle_of_enrollments_through_steps_and_program_entries_fails_where_it_closes():
    # a's step enrolls b; b's email outcome is c's entry; c's step enrolls a
    assert broken(CYCLE) == ("auto.yaml:13: program 'c': step '1': a cycle of enrollments: a -> b -> c -> a "
                             "(a prospect would be enrolled again and again)")


def test_a_cycle_through_an_automation_on_a_programs_email_fails():
    text = """\
version: v1
automations:
  - id: clicked-b
    trigger: {email_outcome: clicked, program: b}
    actions:
      - enroll: b
programs:
  - id: b
    steps: [{send_email: t}]
"""
    assert "auto.yaml:6: automation 'clicked-b': a cycle of enrollments: b -> b" in broken(text)


def test_enrollments_without_a_cycle_pass():
    text = CYCLE.replace("      - enroll: a\n", "      - enroll: d\n") + "  - id: d\n    steps: [{tag: x}]\n"
    assert [p.id for p in parse_automations(text).programs] == ["a", "b", "c", "d"]


def test_the_shipped_example_shows_every_kind_of_trigger_condition_action_and_step():
    f = load_automations(SHIPPED)
    triggers = {type(a.trigger) for a in f.automations} | {type(p.entry) for p in f.programs if p.entry}
    conditions = {type(c) for a in f.automations for c in a.conditions}
    conditions |= {type(c) for p in f.programs for c in p.conditions} | {
        type(c) for p in f.programs for e in p.exits for c in e.goal}
    actions = {type(x) for a in f.automations for x in a.actions} | {type(s.do) for p in f.programs for s in p.steps}
    assert triggers == {m.InteractionTrigger, m.ScoreTrigger, m.SegmentTrigger, m.StageTrigger, m.SlaTrigger,
                        m.EmailOutcomeTrigger, m.InactivityTrigger, m.KnownTrigger}
    assert conditions == {m.AttributeTest, m.StageIn, m.SegmentTest, m.TagTest, m.ScoreRange, m.Consent, m.Known,
                          m.NotSuppressed}
    assert {m.ACTION_TYPE_OF[t] for t in actions if t in m.ACTION_TYPE_OF} == set(m.ACTION_TYPES)
    assert {m.Wait, m.Branch} <= actions
