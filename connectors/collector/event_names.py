"""Senders' event names -> canonical interaction types, from a YAML file marketing ops can edit.

Segment and RudderStack track calls carry product event names ("Demo Requested", "Email
Opened"). The scoring model speaks canonical types, so a configurable table maps names to
types (shipped default: ``leadflow/models/event_names.yaml``, ``LEADFLOW_EVENT_NAMES``);
names not in it are kept as ``event.tracked`` with their name, which rules can match too.
The file is validated on load, with errors naming the file and the line, like the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from streams.core.model import INTERACTION_TYPES, TRACKED
from streams.core.yaml_lines import ModelError

NOT_TRACKABLE = frozenset({"identity.linked", "profile.updated"})  # made by identify/alias, never by a name
_SEPARATORS = re.compile(r"[\s_-]+")


class EventNamesError(ModelError):
    """Invalid event-name file; the message starts with ``file:line``."""


def normalized(name: str) -> str:
    return _SEPARATORS.sub(" ", name.strip()).casefold()


@dataclass(frozen=True)
class EventNames:
    """``type_for(name)``: the canonical type a track call's event name is recorded as."""

    table: dict[str, str]  # normalized name -> canonical type

    def type_for(self, name: str) -> str:
        if name in INTERACTION_TYPES and name not in NOT_TRACKABLE:
            return name
        return self.table.get(normalized(name), TRACKED)


def load_event_names(path: Path) -> EventNames:
    source = path.name
    try:
        text = path.read_text()
    except OSError as exc:
        raise EventNamesError(f"{source}: cannot read the event-name file: {exc.strerror}") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise EventNamesError(f"{source}:{mark.line + 1 if mark else '?'}: not valid YAML: "
                              f"{getattr(exc, 'problem', exc)}") from None
    if not isinstance(root, yaml.MappingNode):
        raise EventNamesError(f"{source}:1: expected a mapping with 'version' and 'events'")
    sections = {key.value: (key, value) for key, value in root.value}
    unknown = set(sections) - {"version", "events"}
    if unknown:
        key = sections[sorted(unknown)[0]][0]
        raise EventNamesError(f"{source}:{key.start_mark.line + 1}: unknown key(s) {', '.join(sorted(unknown))}; "
                              "allowed: version, events")
    if "events" not in sections:
        raise EventNamesError(f"{source}:1: 'events' is required (a mapping of event name -> interaction type)")
    events = sections["events"][1]
    if not isinstance(events, yaml.MappingNode):
        raise EventNamesError(f"{source}:{events.start_mark.line + 1}: 'events' must map event names to types")
    table: dict[str, str] = {}
    allowed = sorted(INTERACTION_TYPES - NOT_TRACKABLE)
    for key, value in events.value:
        line = key.start_mark.line + 1
        if not isinstance(key, yaml.ScalarNode) or not isinstance(value, yaml.ScalarNode) or not key.value.strip():
            raise EventNamesError(f"{source}:{line}: each entry is `Event Name: interaction.type`")
        name = normalized(key.value)
        if value.value not in allowed:
            raise EventNamesError(f"{source}:{line}: event {key.value!r}: unknown interaction type {value.value!r}; "
                                  f"known: {', '.join(allowed)}")
        if name in table:
            raise EventNamesError(f"{source}:{line}: event {key.value!r} is listed twice")
        table[name] = value.value
    return EventNames(table)
