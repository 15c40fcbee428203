"""Parsing the automation file's building blocks: triggers, conditions, actions, spans and frequencies.

Each block is a mapping with exactly one key naming its kind (``{stage: promoted}``,
``{notify: owner, message: ...}``) plus that kind's own modifiers, so an unknown or
misspelt kind fails with the list of known ones instead of silently meaning nothing.
The scoring model's checks (``ModelParser``) are reused for the ``when`` filters,
attribute tests and business-hour calendars, so a filter means the same in both files.
``automation_file.py`` assembles the blocks into automations and programs.
"""

from __future__ import annotations

import re
from string import Formatter
from typing import Any
from urllib.parse import urlsplit

from streams.core import automation_model as m
from streams.core.conditions import AttributeCondition
from streams.core.lifecycle import STAGES
from streams.core.model import ModelParser
from streams.core.yaml_lines import LineChecks

# kind -> the modifiers it accepts next to its own key
TRIGGERS: dict[str, set[str]] = {"interaction": {"count", "within"}, "score": {"above", "below"},
                                 "segment": {"change"}, "stage": set(), "sla": set(),
                                 "email_outcome": {"program", "step", "within"}, "inactivity": set(),
                                 "identity": set()}
CONDITIONS: dict[str, set[str]] = {"attribute": {"equals", "in", "regex"}, "stage": set(), "segment": set(),
                                   "not_segment": set(), "tag": set(), "not_tag": set(),
                                   "score": {"at_least", "below"}, "consent": set()}
BARE_CONDITIONS = {"known": m.Known(), "not_suppressed": m.NotSuppressed()}
ACTIONS: dict[str, set[str]] = {"notify": {"message"}, "crm_task": {"due", "to"}, "webhook": set(),
                                "send_email": {"data", "transactional"}, "tag": set(), "untag": set(),
                                "set_attribute": {"value"}, "points": set(), "enroll": set(), "unenroll": set()}
_PROFILE_FIELD = re.compile(r"profile\.[A-Za-z][A-Za-z0-9_]*")
# what a notify message or a task title may name: {email}, {profile.first_name}, ...
PLACEHOLDERS = ("email", "prospect_id", "stage", "score", "owner", "queue", "source", "trigger", "event", "url",
                "profile")


class VocabularyChecks(LineChecks):
    """The per-block checks; every error names the file, the block's line and the automation or program."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.model_checks = ModelParser(source)  # the scoring rules' `when` filters and value tests
        # every enroll/unenroll seen: (label, line, target program, enroll?, the program whose step it is)
        self.enrolls: list[tuple[str, int, str, bool, str | None]] = []
        self.templates: frozenset[str] | None = None  # the email templates that exist; None: not checked

    # -- shared shapes ---------------------------------------------------------------------------------

    def kind(self, raw: Any, table: dict[str, set[str]], what: str, line: int, label: str) -> str:
        """The one kind key of a block; its other keys must be that kind's modifiers."""
        if not isinstance(raw, dict):
            raise self.fail(line, f"{label}: a {what} must be a mapping such as {{{next(iter(table))}: ...}}, "
                            f"got {raw!r}")
        kinds = [key for key in raw if key in table]
        if not kinds:
            given = ", ".join(sorted(k for k in raw if k != "__line__")) or "nothing"
            raise self.fail(raw["__line__"], f"{label}: unknown {what} type ({given}); known: "
                            f"{', '.join(table)}")
        if len(kinds) > 1:
            raise self.fail(raw["__line__"], f"{label}: a {what} has exactly one type, got {', '.join(kinds)}")
        self.keys(raw, {kinds[0]} | table[kinds[0]], f"{label}: {kinds[0]}")
        return kinds[0]

    def text(self, raw: dict[str, Any], key: str, label: str, what: str) -> str:
        value = raw.get(key)
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or str(value).strip() == "":
            raise self.fail(raw["__line__"], f"{label}: {what}, got {value!r}")
        return str(value)

    def names(self, value: Any, allowed: tuple[str, ...], line: int, what: str) -> frozenset[str]:
        values = value if isinstance(value, list) else [value]
        if not values or any(v not in allowed for v in values):
            raise self.fail(line, f"{what} must be one or a list of {', '.join(allowed)}, got {value!r}")
        return frozenset(values)

    def span(self, raw: dict[str, Any], key: str, what: str) -> m.Span:
        """``3d`` on the wall clock, ``{business: 4h}`` in the file's business hours."""
        value = raw.get(key)
        if isinstance(value, dict):
            self.keys(value, {"business"}, what)
            business = self.duration(value, "business", f"{what}.business", required=True)
            return m.Span(business, True)  # type: ignore[arg-type]
        return m.Span(self.duration(raw, key, what, required=True))  # type: ignore[arg-type]

    def positive_int(self, value: Any, line: int, what: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(line, f"{what} must be a positive integer, got {value!r}")
        return value

    def template(self, text: str, line: int, what: str) -> str:
        """A message or title: placeholders must be known, so a typo fails on load, not in a salesperson's inbox."""
        try:
            fields = [(name, spec, conversion) for _, name, spec, conversion in Formatter().parse(text)
                      if name is not None]
        except ValueError as exc:
            raise self.fail(line, f"{what}: bad template {text!r}: {exc} (write {{{{ for a literal brace)") from None
        for name, spec, conversion in fields:
            # only {name} and {profile.<attribute>}: attribute or index access beyond that would let a template
            # read the engine's own objects ({profile.__init__.__globals__}), and format specs or conversions
            # could fail at run time on a value that is not what they expect
            if name not in PLACEHOLDERS[:-1] and not _PROFILE_FIELD.fullmatch(name) or spec or conversion:
                raise self.fail(line, f"{what}: unknown placeholder {{{name}{'!' + conversion if conversion else ''}"
                                f"{':' + spec if spec else ''}}}; known: {', '.join(PLACEHOLDERS[:-1])} and "
                                "profile.<attribute>, without format specs")
        return text

    def measure(self, value: Any, line: int, what: str) -> tuple[str, str | None]:
        """``total`` | ``fit`` | ``behaviour`` | ``{dimension: <name>}``."""
        if isinstance(value, dict):
            self.keys(value, {"dimension"}, what)
            return "dimension", self.name(value, "dimension", f"{what}.dimension must name a score dimension")
        if value not in m.SCORE_MEASURES[:3]:
            raise self.fail(line, f"{what} must be total, fit, behaviour or {{dimension: <name>}}, got {value!r}")
        return value, None

    def frequency(self, raw: dict[str, Any], label: str) -> m.Frequency:
        value = raw.get("frequency", "once")
        if value == "once":
            return m.ONCE
        if value == "every_time":
            return m.EVERY_TIME
        if not isinstance(value, dict):
            raise self.fail(raw["__line__"], f"{label}: frequency must be once, every_time or "
                            f"{{at_most: 1, per: 1d}}, got {value!r}")
        self.keys(value, {"at_most", "per"}, f"{label}: frequency")
        limit = self.positive_int(value.get("at_most"), value["__line__"], f"{label}: frequency.at_most")
        return m.Frequency("at_most", limit, self.duration(value, "per", f"{label}: frequency.per", required=True))

    # -- triggers --------------------------------------------------------------------------------------

    def trigger(self, raw: Any, line: int, label: str) -> m.Trigger:
        kind = self.kind(raw, TRIGGERS, "trigger", line, label)
        line, what = raw["__line__"], f"{label}: {kind}"
        value = raw[kind]
        if kind == "interaction":
            condition = self.model_checks.event_condition(value, line, label)
            count = self.positive_int(raw.get("count", 1), line, f"{what}.count")
            within = self.duration(raw, "within", f"{what}.within")
            if (count > 1) != (within is not None):
                raise self.fail(line, f"{what}: count and within go together (count 2 or more, within a duration)")
            return m.InteractionTrigger(condition, count, within)
        if kind == "score":
            measure, dimension = self.measure(value, line, what)
            above, below = raw.get("above"), raw.get("below")
            if (above is None) == (below is None):
                raise self.fail(line, f"{what}: give exactly one of above (crossing upwards) or below (downwards)")
            return m.ScoreTrigger(measure, dimension,
                                  None if above is None else self.number(above, line, f"{what}.above"),
                                  None if below is None else self.number(below, line, f"{what}.below"))
        if kind == "segment":
            if raw.get("change") not in m.SEGMENT_CHANGES:
                raise self.fail(line, f"{what}: change must be entered or left, got {raw.get('change')!r}")
            return m.SegmentTrigger(self.text(raw, "segment", label, "segment must name a segment"), raw["change"])
        if kind == "stage":
            return m.StageTrigger(self.names(value, m.STAGE_CHANGES, line, what))
        if kind == "sla":
            return m.SlaTrigger(self.names(value, m.SLA_CHANGES, line, what))
        if kind == "email_outcome":
            if value not in m.EMAIL_OUTCOMES:
                raise self.fail(line, f"{what} must be one of {', '.join(m.EMAIL_OUTCOMES)}, got {value!r}")
            within = self.duration(raw, "within", f"{what}.within")
            if value in m.NEGATIVE_OUTCOMES and within is None:
                raise self.fail(line, f"{what}: {value} needs a window (within: 3d): until it ends, it is unknown")
            step = raw.get("step")
            if step is not None:
                step = self.text(raw, "step", label, "step must name a send_email step")
            return m.EmailOutcomeTrigger(self.text(raw, "program", label, "email_outcome needs the program"),
                                         value, step, within)
        if kind == "identity":
            if value != "known":
                raise self.fail(line, f"{what} must be known (the prospect became a known name), got {value!r}")
            return m.KnownTrigger()
        return m.InactivityTrigger(self.duration(raw, "inactivity", what, required=True))  # type: ignore[arg-type]

    # -- conditions ------------------------------------------------------------------------------------

    def conditions(self, raw: Any, line: int, label: str) -> tuple[m.Condition, ...]:
        if raw is None:
            return ()
        items = raw if isinstance(raw, list) else [raw]
        return tuple(self.condition(item, line, label) for item in items)

    def condition(self, raw: Any, line: int, label: str) -> m.Condition:
        if isinstance(raw, str) and raw in BARE_CONDITIONS:
            return BARE_CONDITIONS[raw]
        if isinstance(raw, str):
            raise self.fail(line, f"{label}: unknown condition type {raw!r}; known: "
                            f"{', '.join([*CONDITIONS, *BARE_CONDITIONS])}")
        kind = self.kind(raw, CONDITIONS, "condition", line, label)
        line, what, value = raw["__line__"], f"{label}: {kind}", raw[kind]
        if kind == "attribute":
            attribute = self.text(raw, "attribute", label, "attribute must name a profile attribute")
            return m.AttributeTest(AttributeCondition(attribute, self.model_checks.value_test(raw, what)))
        if kind == "stage":
            return m.StageIn(self.names(value, STAGES, line, what))
        if kind in ("segment", "not_segment"):
            return m.SegmentTest(self.text(raw, kind, label, f"{kind} must name a segment"), kind == "segment")
        if kind in ("tag", "not_tag"):
            return m.TagTest(self.text(raw, kind, label, f"{kind} must name a tag"), kind == "tag")
        if kind == "score":
            measure, dimension = self.measure(value, line, what)
            low, high = raw.get("at_least"), raw.get("below")
            if low is None and high is None:
                raise self.fail(line, f"{what}: give at_least, below or both")
            low = None if low is None else self.number(low, line, f"{what}.at_least")
            high = None if high is None else self.number(high, line, f"{what}.below")
            if low is not None and high is not None and low >= high:
                raise self.fail(line, f"{what}: at_least must be below below (an empty range never holds)")
            return m.ScoreRange(measure, dimension, low, high)
        return m.Consent(self.text(raw, "consent", label, "consent must name a purpose, e.g. email"))

    # -- actions ---------------------------------------------------------------------------------------

    def actions(self, raw: Any, line: int, label: str, program: str | None = None) -> tuple[m.ActionSpec, ...]:
        if not isinstance(raw, list) or not raw:
            raise self.fail(line, f"{label}: 'actions' must be a non-empty list")
        return tuple(self.action(item, line, label, program) for item in raw)

    def action(self, raw: Any, line: int, label: str, program: str | None = None,
               table: dict[str, set[str]] = ACTIONS) -> m.ActionSpec:
        """``program``: the program whose step this is, so enrollments from it become edges of the graph."""
        kind = self.kind(raw, table, "action", line, label)
        line, what, value = raw["__line__"], f"{label}: {kind}", raw[kind]
        if kind == "notify":
            message = raw.get("message")
            if message is not None:
                message = self.template(self.text(raw, "message", label, "message must be text"), line, what)
            return m.Notify(self.recipient(value, line, what), message)
        if kind == "crm_task":
            title = self.template(self.text(raw, "crm_task", label, "crm_task needs a title"), line, what)
            to = self.recipient(raw["to"], line, f"{what}.to") if "to" in raw else m.Recipient("owner")
            return m.CrmTask(title, self.span(raw, "due", f"{what}.due"), to)
        if kind == "webhook":
            url = self.text(raw, "webhook", label, "webhook needs a URL")
            try:
                parts = urlsplit(url)
            except ValueError:  # e.g. "http://[": urlsplit raises instead of answering
                parts = None
            if parts is None or parts.scheme not in ("https", "http") or not parts.netloc:
                raise self.fail(line, f"{what}: {url!r} is not an http(s) URL")
            return m.Webhook(url)
        if kind == "send_email":
            data = raw.get("data", {})
            if not isinstance(data, dict):
                raise self.fail(line, f"{what}.data must be a mapping of merge fields")
            transactional = raw.get("transactional", False)
            if not isinstance(transactional, bool):
                raise self.fail(line, f"{what}.transactional must be true or false")
            template = self.text(raw, "send_email", label, "send_email needs a template name")
            if self.templates is not None and template not in self.templates:
                raise self.fail(line, f"{what}: unknown template '{template}'; the templates directory next to the "
                                f"file has: {', '.join(sorted(self.templates)) or 'none'} (<name>.html / <name>.txt)")
            return m.SendEmail(template, tuple((str(k), str(v)) for k, v in data.items() if k != "__line__"),
                               transactional)
        if kind in ("tag", "untag"):
            tag = self.text(raw, kind, label, f"{kind} needs a tag name")
            return m.Tag(tag) if kind == "tag" else m.Untag(tag)
        if kind == "set_attribute":
            return m.SetAttribute(self.text(raw, kind, label, "set_attribute needs an attribute name"),
                                  self.text(raw, "value", label, "set_attribute needs a value"))
        if kind == "points":
            points = self.number(value, line, what)
            if points == 0:
                raise self.fail(line, f"{what} must not be 0")
            return m.Points(points)
        target = self.text(raw, kind, label, f"{kind} needs a program id")
        self.enrolls.append((label, line, target, kind == "enroll", program))
        return m.Enroll(target) if kind == "enroll" else m.Unenroll(target)

    def recipient(self, value: Any, line: int, what: str) -> m.Recipient:
        """``owner`` | ``{queue: x}`` | ``{person: ada@example.com}`` | ``{channel: "#sales"}``."""
        if value == "owner":
            return m.Recipient("owner")
        kinds = {"queue", "person", "channel"}
        if not isinstance(value, dict) or len(set(value) - {"__line__"}) != 1 or not set(value) & kinds:
            raise self.fail(line, f"{what} must be owner, {{queue: <name>}}, {{person: <email>}} or "
                            f"{{channel: <chat channel>}}, got {value!r}")
        kind = next(k for k in value if k in kinds)
        return m.Recipient(kind, self.name(value, kind, f"{what}.{kind} must be a name"))
