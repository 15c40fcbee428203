"""`leadflow automations` and `leadflow automations --dry-run FILE`: what automations did, and what a candidate
file would have done.

The counts come from the prospect states (each keeps its programs' runs and a journal of
its recent actions), so they need no other store. A dry run replays every prospect's
retained history under the candidate file in event time, then lets time run to now, the
way ``leadflow rescore`` previews a model: nothing is emitted, only counted.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from streams.core import automation_model as m
from streams.core.automation_index import Engine
from streams.core.automation_state import ACTIVE, ActionEffect, ProgramChange, Suppressed
from streams.core.automations import step
from streams.core.prospect import ProspectState, Tick


@dataclass
class Tally:
    enrolled: Counter = field(default_factory=Counter)  # program -> prospects that entered it
    active: Counter = field(default_factory=Counter)
    ended: Counter = field(default_factory=Counter)  # (program, outcome, reason) -> runs
    actions: Counter = field(default_factory=Counter)  # (source, type) -> actions
    suppressed: Counter = field(default_factory=Counter)  # reason -> actions
    prospects: int = 0

    def render(self, engine: Engine, title: str) -> str:
        lines = [title, f"{self.prospects} prospects; file {engine.file.version} ({engine.source})", ""]
        lines.append(f"{'automation':<28}  {'trigger':<16}  actions")
        for automation in engine.file.automations:
            done = {t: n for (s, t), n in self.actions.items() if s == automation.id}
            lines.append(f"{automation.id[:28]:<28}  {_kind(automation.trigger):<16}  "
                         + (", ".join(f"{t} {n}" for t, n in sorted(done.items())) or "-"))
        lines += ["", f"{'program':<20}  {'enrolled':>8}  {'active':>6}  {'completed':>9}  {'exhausted':>9}  exited"]
        for program in engine.file.programs:
            exited = {r: n for (p, o, r), n in self.ended.items() if p == program.id and o == "exited"}
            lines.append(f"{program.id[:20]:<20}  {self.enrolled[program.id]:>8}  {self.active[program.id]:>6}  "
                         f"{self.ended[(program.id, 'completed', '')]:>9}  {self.ended[(program.id, 'exhausted', '')]:>9}"
                         f"  " + (", ".join(f"{r} {n}" for r, n in sorted(exited.items())) or "-"))
            done = {t: n for (s, t), n in self.actions.items() if s == program.id}
            if done:
                lines.append(f"{'':<20}  actions: " + ", ".join(f"{t} {n}" for t, n in sorted(done.items())))
        if self.suppressed:
            lines += ["", "suppressed: " + ", ".join(f"{r} {n}" for r, n in sorted(self.suppressed.items()))]
        return "\n".join(lines)


def counts(states: list[ProspectState]) -> Tally:
    """What the automations did for these prospects, from their states (actions: their recent journals)."""
    tally = Tally()
    for state in states:
        auto = state.automation
        if auto is None:
            continue
        tally.prospects += 1
        for run in auto.enrollments.values():
            tally.enrolled[run.program] += 1
            if run.status == ACTIVE:
                tally.active[run.program] += 1
            else:
                tally.ended[(run.program, run.status, run.reason or "")] += 1
        for entry in auto.journal:
            if entry.kind == "action":
                tally.actions[(entry.source, entry.detail.split(" ")[0])] += 1
            elif entry.kind == "action.suppressed":
                tally.suppressed[entry.detail.rsplit(": ", 1)[-1]] += 1
    return tally


def dry_run(states: list[ProspectState], engine: Engine, now_ms: int) -> Tally:
    """Replay each prospect's retained history under ``engine`` (a candidate file) up to now; count what fires."""
    tally = Tally()
    for state in states:
        fresh = ProspectState(state.key, model_version=engine.model.version)
        effects = []
        for item in [*state.history, Tick(now_ms)]:
            effects += step(fresh, item, engine.model, engine).effects
        if fresh.automation is None:
            continue
        tally.prospects += 1
        for effect in effects:
            if isinstance(effect, ActionEffect):
                tally.actions[(effect.action.source, effect.action.type)] += 1
            elif isinstance(effect, Suppressed):
                tally.suppressed[effect.reason] += 1
            elif isinstance(effect, ProgramChange) and effect.kind == "enrolled":
                tally.enrolled[effect.program] += 1
            elif isinstance(effect, ProgramChange):
                tally.ended[(effect.program, effect.kind, effect.reason)] += 1
        tally.active.update(r.program for r in fresh.automation.enrollments.values() if r.status == ACTIVE)
    return tally


def _kind(trigger: m.Trigger) -> str:
    return type(trigger).__name__.removesuffix("Trigger").lower()
