"""The scoring model: YAML -> typed, validated objects.

Errors name the file, the line and the rule, because marketing ops edit this file
by hand and must be able to fix it without reading code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schemas.records import Interaction
from streams.core.conditions import AttributeCondition, EventCondition, ValueTest
from streams.core.business_hours import DAY_NAMES, BusinessCalendar
from streams.core.sla import Escalation, SlaPolicy
from streams.core.yaml_lines import LineChecks, ModelError, load_with_lines

INTERACTION_TYPES = frozenset({
    "page.viewed", "email.delivered", "email.opened", "email.clicked", "email.bounced", "email.complained",
    "email.unsubscribed", "form.submitted", "asset.downloaded", "webinar.registered", "webinar.attended",
    "identity.linked", "profile.updated", "event.tracked",
})
TRACKED = "event.tracked"  # a sender's named event (a track call) that maps to no other canonical type
RECYCLE_FACTORS = {"reset": 0.0, "halve": 0.5, "keep": 1.0}  # what a recycle leaves of the behaviour score
RECYCLE_POLICIES = tuple(RECYCLE_FACTORS)
_TOP_KEYS = {"version", "defaults", "thresholds", "recycle", "timeline", "rules", "fit", "segments", "sla"}
_SLA_KEYS = {"id", "respond_within", "business_hours", "escalation", "queue"}
BUSINESS_HOURS_KEYS = {"timezone", "days", "hours", "holidays"}
_ESCALATION_KEYS = {"after", "action", "to"}
ESCALATION_ACTIONS = ("reroute", "notify")
TIME_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")  # "09:00-17:00"
_DEFAULTS_KEYS = {"half_life"}
_THRESHOLD_KEYS = {"promote", "demote"}
_RECYCLE_KEYS = {"score"}
_TIMELINE_KEYS = {"max_events", "max_age"}
_RULE_KEYS = {"id", "when", "points", "once", "cap", "half_life", "dimension", "score_machine"}
_WHEN_KEYS = {"type", "event", "url", "url_contains", "url_regex", "form_id", "campaign", "asset", "property"}
_TEST_KEYS = {"equals", "in", "regex"}
_FIT_KEYS = {"id", "when", "points"}
_SEGMENT_KEYS = {"id", "when"}
_CAP_KEYS = {"max", "per"}


@dataclass(frozen=True, slots=True)
class Cap:
    max: int
    per_ms: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A behaviour rule: points for matching interactions, optionally once, capped, decaying."""

    id: str
    condition: EventCondition
    points: float
    once: bool = False
    cap: Cap | None = None
    half_life_ms: int | None = None
    dimension: str | None = None
    score_machine: bool = False

    def matches(self, event: Interaction) -> bool:
        return (self.score_machine or not event.machine) and self.condition.matches(event)


@dataclass(frozen=True, slots=True)
class FitRule:
    """Explicit points from a profile attribute; recomputed whenever the profile changes."""

    id: str
    condition: AttributeCondition
    points: float


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    condition: EventCondition


@dataclass(frozen=True, slots=True)
class ScoringModel:
    version: str
    promote_threshold: float
    rules: tuple[Rule, ...]
    demote_threshold: float | None = None
    fit_rules: tuple[FitRule, ...] = ()
    segments: tuple[Segment, ...] = ()
    recycle_policy: str = "reset"
    timeline_max_events: int = 500
    timeline_max_age_ms: int | None = None
    sla: SlaPolicy | None = None  # None: promotions start no response clock
    rules_by_type: dict[str, tuple[Rule, ...]] = field(init=False, repr=False, compare=False)
    segments_by_type: dict[str, tuple[Segment, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Every condition names its interaction type, so an event only meets the rules of its type.
        object.__setattr__(self, "rules_by_type", _by_type(self.rules))
        object.__setattr__(self, "segments_by_type", _by_type(self.segments))


def _by_type(items: tuple[Any, ...]) -> dict[str, tuple[Any, ...]]:
    """A condition without a type (an event name alone) is a candidate for every type, in model order."""
    out: dict[str, list[Any]] = {}
    for item in items:
        for type_ in (item.condition.type,) if item.condition.type is not None else sorted(INTERACTION_TYPES):
            out.setdefault(type_, []).append(item)
    return {type_: tuple(group) for type_, group in out.items()}


def load_model(path: Path) -> ScoringModel:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read scoring model: {exc.strerror}") from None
    return parse_model(text, str(path))


def parse_model(text: str, source: str = "<model>") -> ScoringModel:
    doc = load_with_lines(text, source)
    if not isinstance(doc, dict):
        raise ModelError(f"{source}:1: the model must be a mapping with version, thresholds and rules")
    return ModelParser(source).model(doc)


class ModelParser(LineChecks):
    """The model's checks; the automation file reuses its `when` filters, value tests and calendars."""

    def model(self, doc: dict[str, Any]) -> ScoringModel:
        self.keys(doc, _TOP_KEYS, "model")
        version = doc.get("version")
        if not isinstance(version, (str, int)) or str(version) == "":
            raise self.fail(doc["__line__"], "'version' is required (a string naming this model)")
        defaults = self.section(doc, "defaults", _DEFAULTS_KEYS)
        default_half_life = self.duration(defaults, "half_life", "defaults.half_life")
        thresholds = doc.get("thresholds")
        if not isinstance(thresholds, dict):
            raise self.fail(doc["__line__"], "'thresholds' is required (a mapping with 'promote')")
        self.keys(thresholds, _THRESHOLD_KEYS, "thresholds")
        promote = self.number(thresholds.get("promote"), thresholds["__line__"], "thresholds.promote")
        demote = None
        if thresholds.get("demote") is not None:
            demote = self.number(thresholds["demote"], thresholds["__line__"], "thresholds.demote")
            if demote >= promote:
                raise self.fail(thresholds["__line__"], "thresholds.demote must be below thresholds.promote "
                                "(the gap keeps leads from flapping)")
        recycle = self.section(doc, "recycle", _RECYCLE_KEYS)
        policy = recycle.get("score", "reset")
        if policy not in RECYCLE_POLICIES:
            raise self.fail(recycle.get("__line__", doc["__line__"]),
                            f"recycle.score must be one of {', '.join(RECYCLE_POLICIES)}, got {policy!r}")
        timeline = self.section(doc, "timeline", _TIMELINE_KEYS)
        max_events = timeline.get("max_events", 500)
        if isinstance(max_events, bool) or not isinstance(max_events, int) or max_events < 1:
            raise self.fail(timeline.get("__line__", doc["__line__"]), "timeline.max_events must be a positive integer")
        raw_rules = doc.get("rules")
        if not isinstance(raw_rules, list) or not raw_rules:
            raise self.fail(doc["__line__"], "'rules' must be a non-empty list")
        rules = self.unique([self.rule(raw, default_half_life) for raw in raw_rules], raw_rules, "rule")
        raw_fit = self.list_of(doc, "fit")
        fit = self.unique([self.fit_rule(raw) for raw in raw_fit], raw_fit, "fit rule")
        raw_segments = self.list_of(doc, "segments")
        segments = self.unique([self.segment(raw) for raw in raw_segments], raw_segments, "segment")
        return ScoringModel(
            version=str(version), promote_threshold=promote, demote_threshold=demote, rules=tuple(rules),
            fit_rules=tuple(fit), segments=tuple(segments), recycle_policy=policy, timeline_max_events=max_events,
            timeline_max_age_ms=self.duration(timeline, "max_age", "timeline.max_age"),
            sla=self.sla(doc),
        )

    def sla(self, doc: dict[str, Any]) -> SlaPolicy | None:
        raw = self.section(doc, "sla", _SLA_KEYS)
        if not raw:
            return None
        within = self.duration(raw, "respond_within", "sla.respond_within", required=True)
        hours = self.section(raw, "business_hours", BUSINESS_HOURS_KEYS)
        escalations = []
        for step in self.list_of(raw, "escalation"):
            if not isinstance(step, dict):
                raise self.fail(raw["__line__"], f"sla.escalation: every step must be a mapping, got {step!r}")
            self.keys(step, _ESCALATION_KEYS, "sla.escalation")
            after = self.duration(step, "after", "sla.escalation.after", required=True)
            if step.get("action") not in ESCALATION_ACTIONS:
                raise self.fail(step["__line__"], f"sla.escalation.action must be one of "
                                f"{', '.join(ESCALATION_ACTIONS)}, got {step.get('action')!r}")
            to = self.name(step, "to", "sla.escalation.to must name an owner, a queue or an address")
            if escalations and after <= escalations[-1].after_ms:  # type: ignore[operator]
                raise self.fail(step["__line__"], "sla.escalation steps must come in order of 'after' "
                                "(business time after the deadline)")
            escalations.append(Escalation(after, step["action"], to))  # type: ignore[arg-type]
        queue = self.name(raw, "queue", "sla.queue must name the queue new leads wait in", required=False)
        return SlaPolicy(str(raw.get("id", "first-response")), within,  # type: ignore[arg-type]
                         self.calendar(hours, raw["__line__"]), tuple(escalations), queue)

    def time_zone(self, value: Any, line: int, what: str) -> str:
        """An IANA time zone name, or an error at ``line`` naming ``what``."""
        timezone = str(value)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail(line, f"{what}.timezone: unknown time zone {timezone!r} "
                            "(use an IANA name such as Europe/Berlin)") from None
        return timezone

    def calendar(self, raw: dict[str, Any], line: int, what: str = "sla.business_hours") -> BusinessCalendar:
        line = raw.get("__line__", line)
        timezone = self.time_zone(raw.get("timezone", "UTC"), line, what)
        day_names = raw.get("days", list(DAY_NAMES[:5]))
        if not isinstance(day_names, list) or not day_names or any(d not in DAY_NAMES for d in day_names):
            raise self.fail(line, f"{what}.days must be a list of {', '.join(DAY_NAMES)}")
        match = TIME_RANGE.match(str(raw.get("hours", "09:00-17:00")))
        opens = closes = None
        if match:
            h1, m1, h2, m2 = map(int, match.groups())
            if h1 < 24 and m1 < 60 and m2 < 60 and (h2, m2) <= (24, 0) and (h1, m1) < (h2, m2):
                opens, closes = time(h1, m1), None if h2 == 24 else time(h2, m2)
        if opens is None:
            raise self.fail(line, f"{what}.hours must look like \"09:00-17:00\" (quoted), "
                            f"got {raw.get('hours')!r}")
        holidays = raw.get("holidays", [])
        if not isinstance(holidays, list) or not all(isinstance(d, date) for d in holidays):
            raise self.fail(line, f"{what}.holidays must be a list of dates like 2026-12-24")
        return BusinessCalendar(timezone, frozenset(DAY_NAMES.index(d) for d in day_names), opens, closes,
                                frozenset(holidays))

    def rule(self, raw: Any, default_half_life: int | None) -> Rule:
        rule_id, line, label = self.identify(raw, "rule", _RULE_KEYS)
        condition = self.event_condition(raw.get("when"), line, label)
        points = self.number(raw.get("points"), line, f"rule '{rule_id}': points")
        once = raw.get("once", False)
        score_machine = raw.get("score_machine", False)
        for name, value in (("once", once), ("score_machine", score_machine)):
            if not isinstance(value, bool):
                raise self.fail(line, f"rule '{rule_id}': {name} must be true or false")
        cap = None
        if raw.get("cap") is not None:
            cap_raw = raw["cap"]
            if not isinstance(cap_raw, dict):
                raise self.fail(line, f"rule '{rule_id}': cap must be a mapping like {{max: 3, per: 1d}}")
            self.keys(cap_raw, _CAP_KEYS, f"rule '{rule_id}': cap")
            limit = cap_raw.get("max")
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise self.fail(cap_raw["__line__"], f"rule '{rule_id}': cap.max must be a positive integer")
            cap = Cap(limit, self.duration(cap_raw, "per", f"rule '{rule_id}': cap.per", required=True))
        half_life = self.duration(raw, "half_life", f"rule '{rule_id}': half_life")
        dimension = raw.get("dimension")
        if dimension is not None and (not isinstance(dimension, str) or not dimension):
            raise self.fail(line, f"rule '{rule_id}': dimension must be a name")
        return Rule(id=rule_id, condition=condition, points=points, once=once, cap=cap,
                    half_life_ms=half_life if half_life is not None else default_half_life, dimension=dimension,
                    score_machine=score_machine)

    def fit_rule(self, raw: Any) -> FitRule:
        rule_id, line, label = self.identify(raw, "fit rule", _FIT_KEYS)
        when = raw.get("when")
        if not isinstance(when, dict) or not isinstance(when.get("attribute"), str):
            raise self.fail(line, f"{label}: 'when' needs an 'attribute' and a test (equals, in or regex)")
        self.keys(when, _TEST_KEYS | {"attribute"}, label)
        return FitRule(rule_id, AttributeCondition(when["attribute"], self.value_test(when, label)),
                       self.number(raw.get("points"), line, f"{label}: points"))

    def segment(self, raw: Any) -> Segment:
        segment_id, line, label = self.identify(raw, "segment", _SEGMENT_KEYS)
        return Segment(segment_id, self.event_condition(raw.get("when"), line, label))

    def event_condition(self, when: Any, rule_line: int, label: str) -> EventCondition:
        if not isinstance(when, dict):
            raise self.fail(rule_line, f"{label}: 'when' is required (a mapping with at least 'type')")
        line = when["__line__"]
        unknown = set(when) - _WHEN_KEYS - {"__line__"}
        if unknown:
            raise self.fail(line, f"{label}: unknown condition(s) {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(sorted(_WHEN_KEYS))}")
        type_, event = when.get("type"), when.get("event")
        if event is not None and (not isinstance(event, str) or not event.strip()):
            raise self.fail(line, f"{label}: 'event' must be an event name, e.g. \"Demo Requested\"")
        if type_ is None and event is None:
            raise self.fail(line, f"{label}: 'when' needs a 'type' (or an 'event' name)")
        if type_ is not None and type_ not in INTERACTION_TYPES:
            raise self.fail(line, f"{label}: unknown interaction type {type_!r}; known: "
                            f"{', '.join(sorted(INTERACTION_TYPES))}")
        regex = self.regex(when.get("url_regex"), line, label, "url_regex")
        prop = when.get("property")
        prop_name, prop_test = None, None
        if prop is not None:
            if not isinstance(prop, dict) or not isinstance(prop.get("name"), str):
                raise self.fail(line, f"{label}: property needs a 'name' and a test (equals, in or regex)")
            self.keys(prop, _TEST_KEYS | {"name"}, f"{label}: property")
            prop_name, prop_test = prop["name"], self.value_test(prop, f"{label}: property")
        return EventCondition(type=type_, event=event, url=_opt_str(when, "url"), url_contains=_opt_str(when, "url_contains"),
                              url_regex=regex, form_id=_opt_str(when, "form_id"), campaign=_opt_str(when, "campaign"),
                              asset=_opt_str(when, "asset"), property_name=prop_name, property_test=prop_test)

    def value_test(self, raw: dict[str, Any], label: str) -> ValueTest:
        line = raw["__line__"]
        if not any(k in raw for k in _TEST_KEYS):
            raise self.fail(line, f"{label}: give at least one of equals, in or regex")
        one_of = raw.get("in")
        if one_of is not None and not isinstance(one_of, list):
            raise self.fail(line, f"{label}: 'in' must be a list")
        return ValueTest(equals=_opt_str(raw, "equals"),
                         one_of=frozenset(str(v) for v in one_of) if one_of is not None else None,
                         regex=self.regex(raw.get("regex"), line, label, "regex"))

    def regex(self, pattern: Any, line: int, label: str, name: str) -> re.Pattern[str] | None:
        if pattern is None:
            return None
        try:
            return re.compile(str(pattern))
        except re.error as exc:
            raise self.fail(line, f"{label}: bad {name} {pattern!r}: {exc}") from None


def _opt_str(mapping: dict[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return None if value is None else str(value)
