"""The scoring model: YAML -> typed, validated objects.

Errors name the file, the line and the rule, because marketing ops edit this file
by hand and must be able to fix it without reading code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INTERACTION_TYPES = frozenset({
    "page.viewed", "email.delivered", "email.opened", "email.clicked", "email.bounced", "email.complained",
    "email.unsubscribed", "form.submitted", "asset.downloaded", "webinar.registered", "webinar.attended",
    "identity.linked", "profile.updated",
})
_TOP_KEYS = {"version", "thresholds", "rules"}
_THRESHOLD_KEYS = {"promote"}
_RULE_KEYS = {"id", "when", "points"}
_WHEN_KEYS = {"type", "url", "url_contains", "url_regex", "form_id", "campaign"}


class ModelError(ValueError):
    """Invalid scoring model; the message starts with ``file:line``."""


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    type: str
    points: float
    url: str | None = None
    url_contains: str | None = None
    url_regex: re.Pattern[str] | None = None
    form_id: str | None = None
    campaign: str | None = None

    def matches(self, type_: str, url: str | None, form_id: str | None, campaign: str | None) -> bool:
        if type_ != self.type:
            return False
        if self.url is not None and url != self.url:
            return False
        if self.url_contains is not None and (url is None or self.url_contains not in url):
            return False
        if self.url_regex is not None and (url is None or not self.url_regex.search(url)):
            return False
        if self.form_id is not None and form_id != self.form_id:
            return False
        return self.campaign is None or campaign == self.campaign


@dataclass(frozen=True, slots=True)
class ScoringModel:
    version: str
    promote_threshold: float
    rules: tuple[Rule, ...]


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping so validation errors can point at it."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_model(path: Path) -> ScoringModel:
    try:
        text = path.read_text()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read scoring model: {exc.strerror}") from None
    return parse_model(text, str(path))


def parse_model(text: str, source: str = "<model>") -> ScoringModel:
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"{mark.line + 1}" if mark else "?"
        raise ModelError(f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict):
        raise ModelError(f"{source}:1: the model must be a mapping with version, thresholds and rules")
    _check_keys(doc, _TOP_KEYS, source, "model")
    version = doc.get("version")
    if not isinstance(version, (str, int)) or str(version) == "":
        raise ModelError(f"{source}:{doc['__line__']}: 'version' is required (a string naming this model)")
    thresholds = doc.get("thresholds")
    if not isinstance(thresholds, dict):
        raise ModelError(f"{source}:{doc['__line__']}: 'thresholds' is required (a mapping with 'promote')")
    _check_keys(thresholds, _THRESHOLD_KEYS, source, "thresholds")
    promote = _number(thresholds.get("promote"), source, thresholds["__line__"], "thresholds.promote")
    raw_rules = doc.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ModelError(f"{source}:{doc['__line__']}: 'rules' must be a non-empty list")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for raw in raw_rules:
        rule = _parse_rule(raw, source)
        line = raw["__line__"]
        if rule.id in seen:
            raise ModelError(f"{source}:{line}: rule '{rule.id}': duplicate id (first defined on line {seen[rule.id]})")
        seen[rule.id] = line
        rules.append(rule)
    return ScoringModel(version=str(version), promote_threshold=promote, rules=tuple(rules))


def _parse_rule(raw: Any, source: str) -> Rule:
    if not isinstance(raw, dict):
        raise ModelError(f"{source}: every rule must be a mapping, got {raw!r}")
    line = raw["__line__"]
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not rule_id:
        raise ModelError(f"{source}:{line}: rule without an 'id'")
    where = f"{source}:{line}: rule '{rule_id}'"
    unknown = set(raw) - _RULE_KEYS - {"__line__"}
    if unknown:
        raise ModelError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_RULE_KEYS))}")
    when = raw.get("when")
    if not isinstance(when, dict):
        raise ModelError(f"{where}: 'when' is required (a mapping with at least 'type')")
    unknown = set(when) - _WHEN_KEYS - {"__line__"}
    where = f"{source}:{when['__line__']}: rule '{rule_id}'"
    if unknown:
        raise ModelError(f"{where}: unknown condition(s) {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_WHEN_KEYS))}")
    type_ = when.get("type")
    if type_ not in INTERACTION_TYPES:
        raise ModelError(f"{where}: unknown interaction type {type_!r}; known: {', '.join(sorted(INTERACTION_TYPES))}")
    regex = None
    if when.get("url_regex") is not None:
        try:
            regex = re.compile(str(when["url_regex"]))
        except re.error as exc:
            raise ModelError(f"{where}: bad url_regex {when['url_regex']!r}: {exc}") from None
    points = _number(raw.get("points"), source, line, f"rule '{rule_id}': points")
    return Rule(
        id=rule_id, type=type_, points=points, url=_opt_str(when, "url"), url_contains=_opt_str(when, "url_contains"),
        url_regex=regex, form_id=_opt_str(when, "form_id"), campaign=_opt_str(when, "campaign"),
    )


def _check_keys(mapping: dict[str, Any], allowed: set[str], source: str, what: str) -> None:
    unknown = set(mapping) - allowed - {"__line__"}
    if unknown:
        raise ModelError(f"{source}:{mapping['__line__']}: {what}: unknown key(s) {', '.join(sorted(unknown))}; "
                         f"allowed: {', '.join(sorted(allowed))}")


def _number(value: Any, source: str, line: int, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ModelError(f"{source}:{line}: {what} must be a number, got {value!r}")
    return float(value)


def _opt_str(mapping: dict[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return None if value is None else str(value)
