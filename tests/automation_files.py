"""Automation files for the integration and end-to-end tests: the file, its templates, and what the core says."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from schemas.records import Action, CrmFeedback, Interaction
from streams.core.automation_index import Engine
from streams.core.automation_state import ActionEffect
from streams.core.automations import step
from streams.core.model import ScoringModel
from streams.core.prospect import ProspectState, Tick


def write_automations(directory: Path, text: str, templates: Iterable[str]) -> Path:
    """``directory/automations.yaml`` and a ``templates/`` directory next to it with ``<name>.txt`` and
    ``<name>.html`` per template: the worker refuses a file whose send_email names a template that is not there,
    so a test file needs its templates as much as a production one."""
    directory.mkdir(parents=True, exist_ok=True)
    folder = directory / "templates"
    folder.mkdir(exist_ok=True)
    for name in templates:
        (folder / f"{name}.txt").write_text(f"Subject: {name}\n\nHello {{{{ first_name | default('there') }}}}\n"
                                            "Read the guide: https://example.com/guide\n")
        (folder / f"{name}.html").write_text(f"<p>Hello {{{{ first_name | default('there') }}}} ({name})</p>\n"
                                             '<p><a href="https://example.com/guide">Read the guide</a></p>\n')
    path = directory / "automations.yaml"
    path.write_text(text)
    return path


def core_actions(inputs: Iterable[Interaction | CrmFeedback], model: ScoringModel, engine: Engine,
                 until: int) -> dict[str, dict[str, Action]]:
    """What the pure core emits for these inputs, per prospect key and action id: each prospect's inputs in
    order through ``automations.step`` (as one worker partition sees them), then one tick at ``until``, past
    every wait. The worker ticks at wall-clock moments of its own; what a tick runs is dated by its schedule,
    so the actions (ids, dates) must not depend on when, or how often, it ticked."""
    states: dict[str, ProspectState] = {}
    out: dict[str, dict[str, Action]] = {}

    def run(key: str, item: Interaction | CrmFeedback | Tick) -> None:
        outcome = step(states.setdefault(key, ProspectState(key)), item, model, engine)
        states[key] = outcome.state
        for effect in outcome.effects:
            if isinstance(effect, ActionEffect):
                out.setdefault(key, {})[effect.action.action_id] = effect.action

    for item in inputs:
        run(item.prospect_key if isinstance(item, Interaction) else item.prospect_id, item)
    for key in list(states):
        run(key, Tick(until))
    return out


def actions_by_prospect(pairs: Iterable[tuple[bytes, object]]) -> dict[str, dict[str, list[Action]]]:
    """The actions read from ``leadflow.actions``, per prospect and action id, every copy kept: delivery is
    at-least-once, so a replay after a crash may repeat an action (with the same id)."""
    out: dict[str, dict[str, list[Action]]] = {}
    for _, action in pairs:
        assert isinstance(action, Action), action
        out.setdefault(action.prospect_id, {}).setdefault(action.action_id, []).append(action)
    return out
