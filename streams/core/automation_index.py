"""An automation file compiled against a scoring model: what the engine looks up on every input.

Built once when the worker starts. The file is checked against the model here (a segment
or score dimension the model does not define fails on load with the file, line and
automation, like any other error in the file), and triggers are indexed the way the
model indexes its rules: an interaction meets only the automations of its type, and an
input that changes no score, segment or stage costs the engine a few dictionary lookups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.core import automation_model as m
from streams.core.automation_file import load_automations
from streams.core.conditions import EventCondition
from streams.core.model import INTERACTION_TYPES, Rule, ScoringModel
from streams.core.yaml_lines import ModelError

Owner = Union[m.Automation, m.Program]
# the email events the engine itself reads: engagement with what it sent, and what suppresses a prospect
ENGAGEMENT_TYPES = frozenset({"email.opened", "email.clicked", "email.unsubscribed", "email.complained",
                              "email.bounced"})


def load_engine(path: Path | None, model: ScoringModel) -> Engine | None:
    """The automation file at ``path`` (None: no automations) checked and compiled against ``model``; a bad
    file raises ModelError naming the file, the line and the automation."""
    return None if path is None else Engine(load_automations(path), model, str(path))  # whose trigger: an automation's, or a program's entry


def trigger_of(owner: Owner) -> m.Trigger | None:
    return owner.trigger if isinstance(owner, m.Automation) else owner.entry


@dataclass(frozen=True)
class Engine:
    file: m.AutomationFile
    model: ScoringModel
    source: str = "<automations>"
    by_kind: dict[type, tuple[Owner, ...]] = field(init=False, repr=False)
    pairs_by_kind: dict[type, tuple[tuple[Owner, Any], ...]] = field(init=False, repr=False)
    interactions_by_type: dict[str, tuple[tuple[Owner, m.InteractionTrigger], ...]] = field(init=False, repr=False)
    programs: dict[str, m.Program] = field(init=False, repr=False)
    owners: dict[str, Owner] = field(init=False, repr=False)
    score_dimensions: frozenset[str] = field(init=False, repr=False)  # dimensions a trigger watches
    watches_scores: bool = field(init=False, repr=False)
    dimension_rules: dict[str, tuple[Rule, ...]] = field(init=False, repr=False)  # the model's rules per dimension
    goal_programs: frozenset[str] = field(init=False, repr=False)  # programs with a goal exit (scores can meet it)
    min_inactivity_ms: int | None = field(init=False, repr=False)
    scores_any_rule: bool = field(init=False, repr=False)  # a trigger on total, fit, behaviour or a tag
    # score triggers that decay alone can fire (``below`` on a decaying score): each is a timer too
    decay_crossings: tuple[tuple[Owner, m.ScoreTrigger], ...] = field(init=False, repr=False)
    # (program, its send_email step) -> (whose trigger, window) of every negative outcome a trigger waits for
    outcome_windows: dict[tuple[str, str | None], tuple[tuple[str, int], ...]] = field(init=False, repr=False)
    conditions_by_type: dict[str, tuple[EventCondition, ...]] = field(init=False, repr=False)
    watches_stage: bool = field(init=False, repr=False)
    watches_sla: bool = field(init=False, repr=False)
    watches_segments: bool = field(init=False, repr=False)
    watches_known: bool = field(init=False, repr=False)
    watched_rules: frozenset[str] = field(init=False, repr=False)  # rules of the dimensions score triggers watch

    def __post_init__(self) -> None:
        owners: list[Owner] = [*self.file.automations, *self.file.programs]
        by_kind: dict[type, list[Owner]] = {}
        by_type: dict[str, list[Owner]] = {}
        for owner in owners:
            trigger = trigger_of(owner)
            if trigger is None:
                continue
            by_kind.setdefault(type(trigger), []).append(owner)
            if isinstance(trigger, m.InteractionTrigger):
                types = (trigger.condition.type,) if trigger.condition.type else sorted(INTERACTION_TYPES)
                for type_ in types:
                    by_type.setdefault(type_, []).append(owner)
        set_ = object.__setattr__
        set_(self, "by_kind", {kind: tuple(group) for kind, group in by_kind.items()})
        set_(self, "pairs_by_kind", {kind: tuple((o, trigger_of(o)) for o in group) for kind, group in by_kind.items()})
        set_(self, "interactions_by_type", {kind: tuple((o, trigger_of(o)) for o in group)  # type: ignore[misc]
                                            for kind, group in by_type.items()})
        set_(self, "programs", {p.id: p for p in self.file.programs})
        set_(self, "owners", {o.id: o for o in owners})
        scores = [t for o in self.by_kind.get(m.ScoreTrigger, ()) if isinstance(t := trigger_of(o), m.ScoreTrigger)]
        set_(self, "score_dimensions", frozenset(t.dimension for t in scores if t.dimension))
        set_(self, "watches_scores", bool(scores))
        dimension_rules: dict[str, list[Rule]] = {}
        for rule in self.model.rules:
            if rule.dimension:
                dimension_rules.setdefault(rule.dimension, []).append(rule)
        set_(self, "dimension_rules", {name: tuple(rules) for name, rules in dimension_rules.items()})
        set_(self, "conditions_by_type", {type_: tuple(t.condition for _, t in pairs)
                                          for type_, pairs in self.interactions_by_type.items()})
        windows: dict[tuple[str, str | None], list[tuple[str, int]]] = {}
        for program in self.file.programs:
            for step in program.steps:
                if not isinstance(step.do, m.SendEmail):
                    continue
                for owner in self.by_kind.get(m.EmailOutcomeTrigger, ()):
                    trigger = trigger_of(owner)
                    if isinstance(trigger, m.EmailOutcomeTrigger) and trigger.outcome in m.NEGATIVE_OUTCOMES and \
                            trigger.program == program.id and trigger.step in (None, step.label) and \
                            trigger.within_ms is not None:
                        windows.setdefault((program.id, step.label), []).append((owner.id, trigger.within_ms))
        set_(self, "outcome_windows", {key: tuple(value) for key, value in windows.items()})
        set_(self, "decay_crossings", tuple(
            (o, t) for o, t in self.triggered(m.ScoreTrigger)
            if t.below is not None and t.measure != "fit" and not (t.dimension or "").startswith("tag:")))
        set_(self, "watches_stage", m.StageTrigger in self.by_kind)
        set_(self, "watches_sla", m.SlaTrigger in self.by_kind)
        set_(self, "watches_segments", m.SegmentTrigger in self.by_kind)
        set_(self, "watches_known", m.KnownTrigger in self.by_kind)
        set_(self, "scores_any_rule", any(t.measure != "dimension" or (t.dimension or "").startswith("tag:")
                                          for t in scores))
        set_(self, "watched_rules", frozenset(rule.id for t in scores if t.dimension
                                              for rule in self.dimension_rules.get(t.dimension, ())))
        set_(self, "goal_programs", frozenset(p.id for p in self.file.programs if any(e.reason == "goal"
                                                                                      for e in p.exits)))
        spans = [t.for_ms for o in self.by_kind.get(m.InactivityTrigger, ()) if isinstance(t := trigger_of(o),
                                                                                          m.InactivityTrigger)]
        set_(self, "min_inactivity_ms", min(spans, default=None))
        self._check_names()

    def triggered(self, kind: type) -> tuple[tuple[Owner, Any], ...]:
        """(owner, its trigger) for every automation or program entry with a trigger of this kind."""
        return self.pairs_by_kind.get(kind, ())

    def zone(self, name: str | None) -> ZoneInfo:
        """The prospect's own time zone (its ``timezone`` attribute) when it is a real one, else the file's."""
        return _zone(name) or _zone(self.file.defaults.timezone) or ZoneInfo("UTC")

    def _check_names(self) -> None:
        """Segments and score dimensions are the scoring model's: a name it does not define never matches."""
        segments = {s.id for s in self.model.segments}
        dimensions = {r.dimension for r in self.model.rules if r.dimension}
        for owner in (*self.file.automations, *self.file.programs):
            label = f"{'automation' if isinstance(owner, m.Automation) else 'program'} '{owner.id}'"
            items: list[object] = [trigger_of(owner), *owner.conditions]
            if isinstance(owner, m.Program):
                items += [c for e in owner.exits for c in e.goal]
            for item in items:
                segment = getattr(item, "segment", None) if isinstance(item, (m.SegmentTrigger, m.SegmentTest)) \
                    else None
                if segment is not None and segment not in segments:
                    raise ModelError(f"{self.source}:{owner.line}: {label}: unknown segment '{segment}'; the scoring "
                                     f"model {self.model.version} defines: {', '.join(sorted(segments)) or 'none'}")
                dimension = getattr(item, "dimension", None) if isinstance(item, (m.ScoreTrigger, m.ScoreRange)) \
                    else None
                if dimension is not None and dimension not in dimensions and not dimension.startswith("tag:"):
                    raise ModelError(f"{self.source}:{owner.line}: {label}: unknown score dimension '{dimension}'; "
                                     f"the scoring model {self.model.version} defines: "
                                     f"{', '.join(sorted(dimensions)) or 'none'} (and tag:<tag> for tags)")


@lru_cache(maxsize=512)
def _zone(name: str | None) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
