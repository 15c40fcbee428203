"""The automation file (``LEADFLOW_AUTOMATIONS``): YAML -> a validated ``AutomationFile``.

Marketing ops edit it by hand, like the scoring model, so every error names the file,
the line and the automation or program (``automations.yaml:12: program 'welcome':
step 'resend': branch to unknown step 'later'``), and the whole file is checked on
load: the engine must never find out at 3 a.m. that a program enrolls into itself or
that a wait has no unit. References across items are checked after every item is read:
enroll/unenroll targets, email outcomes of a program's steps, branch targets, and
cycles of enrollments (a prospect enrolled again and again, each time with new actions).
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Any

from streams.core import automation_model as m
from streams.core.automation_vocabulary import ACTIONS, VocabularyChecks
from streams.core.model import BUSINESS_HOURS_KEYS, TIME_RANGE
from streams.core.yaml_lines import ModelError, load_with_lines

_TOP_KEYS = {"version", "defaults", "automations", "programs"}
_DEFAULTS_KEYS = {"timezone", "quiet_hours", "marketing_emails_per_week", "business_hours", "stale_after"}
_AUTOMATION_KEYS = {"id", "trigger", "conditions", "actions", "frequency"}
_PROGRAM_KEYS = {"id", "entry", "conditions", "steps", "exit", "reenroll", "priority"}
_STEPS: dict[str, set[str]] = {"wait": set(), "branch": set(), **ACTIONS}

Edge = tuple[str, str, str, int]  # from program, to program, the item that makes it (label), its line


TEMPLATE_SUFFIXES = (".html", ".txt")  # a template is <name>.html and/or <name>.txt in the templates directory


def load_automations(path: Path) -> m.AutomationFile:
    """The only I/O: read the file and list the templates directory next to it; everything else is
    ``parse_automations``."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read automation file: {exc.strerror}") from None
    return parse_automations(text, str(path), templates_in(path.parent / "templates"))


def templates_in(directory: Path) -> frozenset[str]:
    """The names of the email templates in ``directory`` (none if it does not exist)."""
    try:
        return frozenset(f.stem for f in directory.iterdir() if f.suffix in TEMPLATE_SUFFIXES and f.is_file())
    except OSError:
        return frozenset()


def parse_automations(text: str, source: str = "<automations>",
                      templates: frozenset[str] | None = None) -> m.AutomationFile:
    """``templates``: the email templates that exist (every send_email must name one); None: not checked."""
    doc = load_with_lines(text, source)
    if not isinstance(doc, dict):
        raise ModelError(f"{source}:1: the automation file must be a mapping with version, automations "
                         "and programs")
    parser = _FileParser(source)
    parser.templates = templates
    return parser.parse(doc)


class _FileParser(VocabularyChecks):
    def parse(self, doc: dict[str, Any]) -> m.AutomationFile:
        self.keys(doc, _TOP_KEYS, "automation file")
        version = doc.get("version")
        if isinstance(version, bool) or not isinstance(version, (str, int)) or str(version) == "":
            raise self.fail(doc["__line__"], "'version' is required (a string naming this file; it goes "
                            "into every action id)")
        defaults = self.defaults(doc)
        raw_automations, raw_programs = self.list_of(doc, "automations"), self.list_of(doc, "programs")
        if not raw_automations and not raw_programs:
            raise self.fail(doc["__line__"], "the file defines no automations and no programs")
        automations = self.unique([self.automation(raw) for raw in raw_automations], raw_automations, "automation")
        programs = self.unique([self.program(raw) for raw in raw_programs], raw_programs, "program")
        self.one_namespace(automations, programs)
        self.references(automations, programs)
        return m.AutomationFile(str(version), defaults, tuple(automations), tuple(programs))

    # -- sections --------------------------------------------------------------------------------------

    def defaults(self, doc: dict[str, Any]) -> m.Defaults:
        raw = self.section(doc, "defaults", _DEFAULTS_KEYS)
        line = raw.get("__line__", doc["__line__"])
        timezone = self.model_checks.time_zone(raw.get("timezone", "UTC"), line, "defaults")
        quiet = None if raw.get("quiet_hours") is None else self.quiet_hours(raw["quiet_hours"], line)
        cap = raw.get("marketing_emails_per_week")
        if cap is not None:
            cap = self.positive_int(cap, line, "defaults.marketing_emails_per_week")
        hours = self.section(raw, "business_hours", BUSINESS_HOURS_KEYS) if raw else {}
        calendar = self.model_checks.calendar({"timezone": timezone, **hours}, line, "defaults.business_hours")
        stale = self.duration(raw, "stale_after", "defaults.stale_after") if raw else None
        return m.Defaults(timezone, quiet, cap, calendar, *(() if stale is None else (stale,)))

    def quiet_hours(self, value: Any, line: int) -> m.QuietHours:
        match = TIME_RANGE.match(value) if isinstance(value, str) else None
        if match:
            h1, m1, h2, m2 = map(int, match.groups())
            if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
                return m.QuietHours(time(h1, m1), time(h2, m2))
        raise self.fail(line, f"defaults.quiet_hours must look like \"21:00-08:00\" (quoted; start and end "
                        f"differ; it may span midnight), got {value!r}")

    def automation(self, raw: Any) -> m.Automation:
        automation_id, line, label = self.identify(raw, "automation", _AUTOMATION_KEYS)
        if raw.get("trigger") is None:
            raise self.fail(line, f"{label}: 'trigger' is required")
        trigger = self.trigger(raw["trigger"], line, label)
        # enrollments fired by an outcome of program P's email are edges P -> target of the enrollment graph
        origin = trigger.program if isinstance(trigger, m.EmailOutcomeTrigger) else None
        return m.Automation(automation_id, trigger, self.actions(raw.get("actions"), line, label, origin),
                            self.conditions(raw.get("conditions"), line, label), self.frequency(raw, label), line)

    def program(self, raw: Any) -> m.Program:
        program_id, line, label = self.identify(raw, "program", _PROGRAM_KEYS)
        entry = None if raw.get("entry") is None else self.trigger(raw["entry"], line, f"{label}: entry")
        raw_steps = raw.get("steps")
        if not isinstance(raw_steps, list) or not raw_steps:
            raise self.fail(line, f"{label}: 'steps' must be a non-empty list")
        steps = [self.step(step, n, line, label, program_id) for n, step in enumerate(raw_steps, 1)]
        self.check_steps(steps, label)
        priority = raw.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise self.fail(line, f"{label}: priority must be an integer (higher wins), got {priority!r}")
        return m.Program(program_id, tuple(steps), entry, self.conditions(raw.get("conditions"), line, label),
                         self.exits(raw.get("exit"), line, label), self.reenroll(raw, label), priority, line)

    def step(self, raw: Any, position: int, line: int, label: str, program_id: str) -> m.Step:
        if not isinstance(raw, dict):
            raise self.fail(line, f"{label}: step {position} must be a mapping such as {{wait: 3d}}, got {raw!r}")
        line = raw["__line__"]
        step_label = str(raw.get("id", position))
        if step_label == m.EXIT:
            raise self.fail(line, f"{label}: step id 'exit' is reserved (a branch to it ends the program)")
        what = f"{label}: step '{step_label}'"
        body = {key: value for key, value in raw.items() if key != "id"}
        kind = self.kind(body, _STEPS, "step", line, what)
        if kind == "wait":
            return m.Step(step_label, m.Wait(self.span(body, "wait", f"{what}: wait")), line)
        if kind == "branch":
            branch = body["branch"]
            if not isinstance(branch, dict):
                raise self.fail(line, f"{what}: branch must be a mapping like {{if: opened, then: resend}}")
            self.keys(branch, {"if", "then"}, f"{what}: branch")
            if branch.get("if") not in m.ENGAGEMENTS:
                raise self.fail(line, f"{what}: branch.if must be one of {', '.join(m.ENGAGEMENTS)}, "
                                f"got {branch.get('if')!r}")
            then = self.text(branch, "then", what, "branch.then must name a later step or exit")
            return m.Step(step_label, m.Branch(branch["if"], then), line)
        return m.Step(step_label, self.action(body, line, what, program_id), line)

    def check_steps(self, steps: list[m.Step], label: str) -> None:
        """Labels are unique; a branch follows an email and jumps forward, so every run of a program ends."""
        seen: dict[str, int] = {}
        for step in steps:
            if step.label in seen:
                raise self.fail(step.line, f"{label}: step '{step.label}': duplicate step id (first on line "
                                f"{seen[step.label]})")
            seen[step.label] = step.line
        for n, step in enumerate(steps):
            if not isinstance(step.do, m.Branch):
                continue
            if not any(isinstance(s.do, m.SendEmail) for s in steps[:n]):
                raise self.fail(step.line, f"{label}: step '{step.label}': a branch needs an earlier send_email "
                                "step (it branches on engagement with the previous email)")
            later = [s.label for s in steps[n + 1:]]
            if step.do.then != m.EXIT and step.do.then not in later:
                where = "an earlier step (branches only jump forward)" if step.do.then in seen else "unknown step"
                raise self.fail(step.line, f"{label}: step '{step.label}': branch to {where} "
                                f"'{step.do.then}'; later steps: {', '.join(later) or 'none'} (or exit)")

    def exits(self, raw: Any, line: int, label: str) -> tuple[m.ExitCriterion, ...]:
        if raw is None:
            return ()
        if not isinstance(raw, list):
            raise self.fail(line, f"{label}: exit must be a list such as [promoted, unsubscribed]")
        out = []
        for item in raw:
            if item in m.EXIT_REASONS:
                out.append(m.ExitCriterion(item))
            elif isinstance(item, dict) and set(item) - {"__line__"} == {"goal"}:
                goal = self.conditions(item["goal"], item["__line__"], f"{label}: exit goal")
                if not goal:
                    raise self.fail(item["__line__"], f"{label}: exit goal needs at least one condition")
                out.append(m.ExitCriterion("goal", goal))
            else:
                raise self.fail(item["__line__"] if isinstance(item, dict) else line,
                                f"{label}: unknown exit criterion {item!r}; known: {', '.join(m.EXIT_REASONS)} "
                                "or {goal: [conditions]}")
        return tuple(out)

    def reenroll(self, raw: dict[str, Any], label: str) -> m.Reenroll:
        value = raw.get("reenroll", "never")
        if value in ("never", "always"):
            return m.Reenroll(value)
        if isinstance(value, dict):
            self.keys(value, {"after"}, f"{label}: reenroll")
            return m.Reenroll("after", self.duration(value, "after", f"{label}: reenroll.after", required=True))
        raise self.fail(raw["__line__"], f"{label}: reenroll must be never, always or {{after: 30d}}, got {value!r}")

    # -- across items ----------------------------------------------------------------------------------

    def one_namespace(self, automations: list[m.Automation], programs: list[m.Program]) -> None:
        """Ledger entries, timelines and action sources name an automation or a program by id alone."""
        automation_lines = {a.id: a.line for a in automations}
        for program in programs:
            if program.id in automation_lines:
                raise self.fail(program.line, f"program '{program.id}': id already used by the automation on line "
                                f"{automation_lines[program.id]} (ids name both in ledgers and timelines)")

    def references(self, automations: list[m.Automation], programs: list[m.Program]) -> None:
        by_id = {p.id: p for p in programs}
        for label, line, target, enroll, _ in self.enrolls:
            if target not in by_id:
                raise self.fail(line, f"{label}: {'enroll' if enroll else 'unenroll'} names unknown program "
                                f"'{target}'; programs: {', '.join(by_id) or 'none'}")
        owners: list[tuple[str, int, m.Trigger | None, str | None]] = [
            (f"automation '{a.id}'", a.line, a.trigger, None) for a in automations]
        owners += [(f"program '{p.id}': entry", p.line, p.entry, p.id) for p in programs]
        edges: list[Edge] = [(origin, target, label, line)
                             for label, line, target, enroll, origin in self.enrolls if enroll and origin]
        for label, line, trigger, entered in owners:
            if not isinstance(trigger, m.EmailOutcomeTrigger):
                continue
            source = by_id.get(trigger.program)
            if source is None:
                raise self.fail(line, f"{label}: email_outcome of unknown program '{trigger.program}'")
            emails = [s.label for s in source.steps if isinstance(s.do, m.SendEmail)]
            if trigger.step is not None and trigger.step not in emails:
                raise self.fail(line, f"{label}: email_outcome step '{trigger.step}' is not a send_email step of "
                                f"program '{source.id}'; its emails: {', '.join(emails) or 'none'}")
            if entered is not None:  # a program entered on another's email outcome
                edges.append((source.id, entered, label, line))
        self.acyclic(edges)

    def acyclic(self, edges: list[Edge]) -> None:
        """A program whose steps, or whose email outcomes' automations, lead back into itself enrolls a
        prospect again and again; the first such cycle in file order fails at the edge that closes it."""
        graph: dict[str, list[Edge]] = {}
        for edge in edges:
            graph.setdefault(edge[0], []).append(edge)
        done: set[str] = set()

        def visit(node: str, path: list[str]) -> None:
            for edge in graph.get(node, []):
                target = edge[1]
                if target in path:
                    cycle = " -> ".join([*path[path.index(target):], target])
                    raise self.fail(edge[3], f"{edge[2]}: a cycle of enrollments: {cycle} (a prospect would be "
                                    "enrolled again and again)")
                if target not in done:
                    visit(target, [*path, target])
            done.add(node)

        for start in list(graph):
            if start not in done:
                visit(start, [start])
