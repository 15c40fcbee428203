"""The scoring model's YAML read with the line of every mapping, and the checks that point at it.

Marketing ops edit the model by hand: every error names the file and the line to fix.
"""

from __future__ import annotations

from typing import Any

import yaml

from streams.core.durations import parse_duration_ms


class ModelError(ValueError):
    """Invalid scoring model; the message starts with ``file:line``."""


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping so validation errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_with_lines(text: str, source: str) -> Any:
    """The document, every mapping carrying its ``__line__``."""
    try:
        return yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        raise ModelError(f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None


class LineChecks:
    """Checks of mappings read by ``load_with_lines``; each failure is a ModelError at the mapping's line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, line: int, message: str) -> ModelError:
        return ModelError(f"{self.source}:{line}: {message}")

    def identify(self, raw: Any, kind: str, allowed: set[str]) -> tuple[str, int, str]:
        if not isinstance(raw, dict):
            raise ModelError(f"{self.source}: every {kind} must be a mapping, got {raw!r}")
        line = raw["__line__"]
        item_id = raw.get("id")
        if not isinstance(item_id, str) or not item_id:
            raise self.fail(line, f"{kind} without an 'id'")
        label = f"{kind} '{item_id}'"
        unknown = set(raw) - allowed - {"__line__"}
        if unknown:
            raise self.fail(line, f"{label}: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(sorted(allowed))}")
        return item_id, line, label

    def unique(self, items: list[Any], raws: list[dict[str, Any]], kind: str) -> list[Any]:
        seen: dict[str, int] = {}
        for item, raw in zip(items, raws):
            if item.id in seen:
                raise self.fail(raw["__line__"], f"{kind} '{item.id}': duplicate id (first defined on line "
                                f"{seen[item.id]})")
            seen[item.id] = raw["__line__"]
        return items

    def section(self, doc: dict[str, Any], name: str, allowed: set[str]) -> dict[str, Any]:
        value = doc.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(doc["__line__"], f"'{name}' must be a mapping")
        self.keys(value, allowed, name)
        return value

    def list_of(self, doc: dict[str, Any], name: str) -> list[Any]:
        value = doc.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(doc["__line__"], f"'{name}' must be a list")
        return value

    def keys(self, mapping: dict[str, Any], allowed: set[str], what: str) -> None:
        unknown = set(mapping) - allowed - {"__line__"}
        if unknown:
            raise self.fail(mapping["__line__"], f"{what}: unknown key(s) {', '.join(sorted(unknown))}; "
                            f"allowed: {', '.join(sorted(allowed))}")

    def duration(self, mapping: dict[str, Any], key: str, what: str, required: bool = False) -> int | None:
        if mapping.get(key) is None:
            if required:
                raise self.fail(mapping.get("__line__", 1), f"{what} is required")
            return None
        try:
            return parse_duration_ms(mapping[key])
        except ValueError as exc:
            raise self.fail(mapping["__line__"], f"{what}: {exc}") from None

    def name(self, mapping: dict[str, Any], key: str, requirement: str, required: bool = True) -> str | None:
        value = mapping.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value:
            raise self.fail(mapping["__line__"], f"{requirement}, got {value!r}")
        return value

    def number(self, value: Any, line: int, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(line, f"{what} must be a number, got {value!r}")
        return float(value)
