from pathlib import Path

import pytest

from leadflow.config import DEFAULT_MODEL
from schemas.records import Interaction
from streams.core.model import ModelError, load_model, parse_model

VALID = """\
version: v1
thresholds:
  promote: 50
rules:
  - id: pricing
    when: {type: page.viewed, url_contains: /pricing}
    points: 20
  - id: open
    when: {type: email.opened}
    points: 5
"""


def test_shipped_model_loads():
    model = load_model(DEFAULT_MODEL)
    assert model.promote_threshold == 50
    points = {rule.id: rule.points for rule in model.rules}
    assert points["email-open"] == 5 and points["pricing-page"] == 20 and points["email-bounce"] == -10
    assert points["unsubscribe"] < 0


def view(url: str, **extra) -> Interaction:
    return Interaction(event_id="e", prospect_key="p", type="page.viewed", occurred_at=0, received_at=0,
                       source="t", url=url, **extra)


def test_valid_model():
    model = parse_model(VALID)
    assert model.version == "v1"
    assert [r.id for r in model.rules] == ["pricing", "open"]
    assert model.rules[0].matches(view("https://a.io/pricing"))
    assert not model.rules[0].matches(view("https://a.io/blog"))
    assert not model.rules[0].matches(view("https://a.io/pricing", machine=True))
    assert model.demote_threshold is None and model.rules[0].half_life_ms is None


FULL = """\
version: v2
defaults: {half_life: 30d}
thresholds: {promote: 50, demote: 20}
recycle: {score: halve}
timeline: {max_events: 100, max_age: 180d}
rules:
  - id: pro-pricing
    when:
      type: page.viewed
      url_regex: "/pricing(/|$)"
      property: {name: plan, in: [pro, enterprise]}
    points: 20
    once: true
    cap: {max: 3, per: 12h}
    half_life: 7d
    dimension: product-pro
  - id: whitepaper
    when: {type: asset.downloaded, asset: wp-2026}
    points: 10
fit:
  - id: vp
    when: {attribute: job_title, regex: "(?i)vp"}
    points: 15
segments:
  - id: pricing
    when: {type: page.viewed, url_contains: /pricing}
"""


def test_every_option_parses():
    model = parse_model(FULL)
    pro, whitepaper = model.rules
    assert (pro.once, pro.cap.max, pro.cap.per_ms, pro.half_life_ms, pro.dimension) == (
        True, 3, 12 * 3_600_000, 7 * 86_400_000, "product-pro")
    assert whitepaper.half_life_ms == 30 * 86_400_000  # the model default
    assert (model.demote_threshold, model.recycle_policy, model.timeline_max_events, model.timeline_max_age_ms) == (
        20, "halve", 100, 180 * 86_400_000)
    assert pro.matches(view("https://a.io/pricing", properties={"plan": "pro"}))
    assert not pro.matches(view("https://a.io/pricing", properties={"plan": "free"}))
    assert not pro.matches(view("https://a.io/pricing-old", properties={"plan": "pro"}))
    download = Interaction(event_id="e", prospect_key="p", type="asset.downloaded", occurred_at=0, received_at=0,
                           source="t", properties={"asset": "wp-2026"})
    assert whitepaper.matches(download)
    assert model.fit_rules[0].condition.matches({"job_title": "VP Sales"})
    assert [s.id for s in model.segments] == ["pricing"]


@pytest.mark.parametrize("broken, expected", [
    (VALID.replace("url_contains", "url_contain"), "m.yaml:6: rule 'pricing': unknown condition(s) url_contain"),
    (VALID.replace("    points: 5", "    points: 5\n    bonus: 1"), "m.yaml:8: rule 'open': unknown key(s) bonus"),
    (VALID.replace("id: open", "id: pricing"), "m.yaml:8: rule 'pricing': duplicate id (first defined on line 5)"),
    (VALID.replace("url_contains: /pricing", "url_regex: '(unclosed'"), "m.yaml:6: rule 'pricing': bad url_regex"),
    (VALID.replace("email.opened", "email.read"), "m.yaml:9: rule 'open': unknown interaction type 'email.read'"),
    (VALID.replace("points: 20", "points: lots"), "m.yaml:5: rule 'pricing': points must be a number"),
    (VALID.replace("promote: 50", "promote: high"), "m.yaml:3: thresholds.promote must be a number"),
    (VALID.replace("version: v1", "versoin: v1"), "m.yaml:1: model: unknown key(s) versoin"),
    ("rules: [\n  - id: x\n   bad", "m.yaml:2: not valid YAML"),
    (FULL.replace("half_life: 7d", "half_life: 7 days"), "m.yaml:7: rule 'pro-pricing': half_life: '7 days' is not a "
     "duration"),
    (FULL.replace("demote: 20", "demote: 60"), "m.yaml:3: thresholds.demote must be below thresholds.promote"),
    (FULL.replace("max: 3", "max: 0"), "m.yaml:14: rule 'pro-pricing': cap.max must be a positive integer"),
    (FULL.replace("score: halve", "score: zero"), "m.yaml:4: recycle.score must be one of reset, halve, keep"),
    (FULL.replace('regex: "(?i)vp"', 'regex: "(unclosed"'), "m.yaml:22: fit rule 'vp': bad regex"),
    (FULL.replace("in: [pro, enterprise]", "in: pro"), "m.yaml:11: rule 'pro-pricing': property: 'in' must be a list"),
    (FULL.replace("id: pricing\n", "id: pricing\n    points: 3\n"), "m.yaml:25: segment 'pricing': unknown key(s) points"),
    (FULL.replace("once: true", "once: yes please"), "m.yaml:7: rule 'pro-pricing': once must be true or false"),
])
def test_errors_name_file_line_and_rule(broken, expected):
    with pytest.raises(ModelError) as err:
        parse_model(broken, "m.yaml")
    assert str(err.value).startswith(expected), str(err.value)


def test_missing_file_is_a_model_error(tmp_path: Path):
    with pytest.raises(ModelError, match="cannot read"):
        load_model(tmp_path / "nope.yaml")


SLA = VALID + """\
sla:
  respond_within: 4h
  business_hours:
    timezone: Europe/Berlin
    days: [mon, tue, wed, thu, fri]
    hours: "08:30-17:00"
    holidays: [2026-12-24, 2026-12-25]
  escalation:
    - {after: 2h, action: reroute, to: "queue:inside-sales-2"}
    - {after: 4h, action: notify, to: manager@example.com}
"""


def test_the_sla_policy_parses():
    from datetime import date, time

    sla = parse_model(SLA).sla
    assert sla is not None and sla.id == "first-response" and sla.respond_within_ms == 4 * 3_600_000
    calendar = sla.calendar
    assert (calendar.timezone, calendar.days, calendar.opens, calendar.closes) == (
        "Europe/Berlin", frozenset(range(5)), time(8, 30), time(17, 0))
    assert calendar.holidays == {date(2026, 12, 24), date(2026, 12, 25)}
    assert [(e.after_ms, e.action, e.to) for e in sla.escalations] == [
        (7_200_000, "reroute", "queue:inside-sales-2"), (14_400_000, "notify", "manager@example.com")]
    assert parse_model(VALID).sla is None
    round_the_clock = parse_model(SLA.replace('"08:30-17:00"', '"00:00-24:00"')).sla
    assert round_the_clock is not None and round_the_clock.calendar.closes is None


@pytest.mark.parametrize("broken, expected", [
    (SLA.replace("respond_within: 4h", "respond_within: soon"), "m.yaml:12: sla.respond_within: 'soon' is not a "
     "duration"),
    (SLA.replace("Europe/Berlin", "Mars/Olympus"), "m.yaml:14: sla.business_hours.timezone: unknown time zone"),
    (SLA.replace("thu, fri", "thu, fry"), "m.yaml:14: sla.business_hours.days must be a list of mon"),
    (SLA.replace('"08:30-17:00"', '"17:00-08:30"'), "m.yaml:14: sla.business_hours.hours must look like"),
    (SLA.replace("2026-12-25", "christmas"), "m.yaml:14: sla.business_hours.holidays must be a list of dates"),
    (SLA.replace("after: 4h", "after: 1h"), "m.yaml:20: sla.escalation steps must come in order of 'after'"),
    (SLA.replace("action: notify", "action: shout"), "m.yaml:20: sla.escalation.action must be one of reroute, "
     "notify"),
    (SLA.replace("  escalation:", "  escalate:"), "m.yaml:12: sla: unknown key(s) escalate"),
    (SLA.replace("to: manager@example.com", "to: ''"), "m.yaml:20: sla.escalation.to must name an owner, a queue "
     "or an address, got ''"),
    (SLA.replace("  respond_within: 4h", "  respond_within: 4h\n  queue: [sdr]"), "m.yaml:12: sla.queue must name "
     "the queue new leads wait in, got ['sdr']"),
])
def test_sla_errors_name_file_and_line(broken, expected):
    with pytest.raises(ModelError) as err:
        parse_model(broken, "m.yaml")
    assert str(err.value).startswith(expected), str(err.value)


def test_rules_can_match_a_senders_event_name_of_any_type():
    model = parse_model("""\
version: e1
thresholds: {promote: 50}
rules:
  - {id: demo, when: {event: Demo Requested}, points: 40}
  - {id: opened-by-name, when: {type: email.opened, event: Email Opened}, points: 2}
""")
    def tracked(type_, name):
        return Interaction(event_id="e", prospect_key="p", type=type_, occurred_at=1, received_at=1, source="t",
                           event=name)
    demo = model.rules[0].condition
    assert demo.matches(tracked("event.tracked", "demo requested")) and demo.matches(tracked("form.submitted",
                                                                                            "Demo Requested"))
    assert not demo.matches(tracked("event.tracked", "Pricing Viewed")) and not demo.matches(tracked("page.viewed", None))
    assert [r.id for r in model.rules_by_type["email.opened"]] == ["demo", "opened-by-name"]
    opened = model.rules[1].condition
    assert opened.matches(tracked("email.opened", "Email Opened")) and not opened.matches(tracked("event.tracked",
                                                                                                  "Email Opened"))


@pytest.mark.parametrize("when, expected", [
    ("{}", "<model>:4: rule 'a': 'when' needs a 'type' (or an 'event' name)"),
    ("{event: ''}", "<model>:4: rule 'a': 'event' must be an event name"),
    ("{event: [a]}", "<model>:4: rule 'a': 'event' must be an event name"),
])
def test_event_name_conditions_are_checked(when, expected):
    with pytest.raises(ModelError) as exc:
        parse_model(f"version: e\nthresholds: {{promote: 5}}\nrules:\n  - {{id: a, when: {when}, points: 1}}\n")
    assert str(exc.value).startswith(expected), str(exc.value)
