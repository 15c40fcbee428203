"""The tuner's candidate: the current model file's own text with new points, threshold and version.

Why edit the text instead of dumping YAML: marketing ops review the candidate as a diff
against the file they know, with their comments, order and layout intact; only the lines
that carry a changed number (and the version) differ, each with ``# tuned: old -> new``.
The result is parsed back and every number compared with what was asked, so a layout this
editor does not understand fails loudly instead of writing a wrong model.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from typing import Any, Mapping, Sequence

from streams.core.model import parse_model
from streams.core.yaml_lines import ModelError, load_with_lines

_NUMBER = r"(-?\d+(?:\.\d+)?)"


class CandidateError(ModelError):
    """The model file's layout defeated the editor; the message names the line."""


def number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def version_for(old_version: str, points: Sequence[float], threshold: float, data_end: str) -> str:
    """``<old>-tuned-<YYYYMMDD of the newest outcome>-<4 hex of the numbers>``: the same data and settings give
    the same name."""
    digest = hashlib.sha256(repr((tuple(points), threshold)).encode()).hexdigest()[:4]
    return f"{old_version}-tuned-{data_end}-{digest}"


def candidate_text(text: str, source: str, changes: Mapping[str, tuple[float, float]],
                   promote: tuple[float, float], version: str) -> str:
    """``text`` with each changed parameter's points (``changes``: name -> (old, new); fit rules as
    ``fit:<id>``), the promotion threshold (old, new; the demotion threshold kept in proportion) and
    ``version``; raises CandidateError when the result would not say exactly that."""
    doc = load_with_lines(text, source)
    lines = text.split("\n")
    rules = {raw["id"]: raw["__line__"] for raw in doc.get("rules") or [] if isinstance(raw, dict)}
    fits = {f"fit:{raw['id']}": raw["__line__"] for raw in doc.get("fit") or [] if isinstance(raw, dict)}
    starts = {**rules, **fits}
    for name, (old, new) in changes.items():
        if old != new:
            _set(lines, starts[name], "points", old, new, source)
    old_promote, new_promote = promote
    thresholds = doc["thresholds"]
    demote = thresholds.get("demote")
    new_demote = None
    if old_promote != new_promote:
        _set(lines, thresholds["__line__"], "promote", old_promote, new_promote, source)
        if demote is not None:
            new_demote = float(round(demote * new_promote / old_promote))
            new_demote = min(new_demote, new_promote - 1)
            if new_demote != demote:
                _set(lines, thresholds["__line__"], "demote", demote, new_demote, source,
                     "kept in proportion to promote")
    _set_version(lines, str(doc["version"]), version, source)
    result = "\n".join(lines)
    _check(result, source, changes, new_promote, new_demote if new_demote is not None else demote, version)
    return result


def _set(lines: list[str], start: int, key: str, old: float, new: float, source: str, why: str = "") -> None:
    """Replace the first ``key: <number>`` at or after line ``start`` (1-based) and note the change there."""
    pattern = re.compile(rf"(?<![\w-]){key}:\s*{_NUMBER}")
    for index in range(start - 1, len(lines)):
        code, comment = _split_comment(lines[index])
        match = pattern.search(code)
        if match is None:
            continue
        changed = code[:match.start(1)] + number(new) + code[match.end(1):]
        note = f"tuned: {number(old)} -> {number(new)}" + (f" ({why})" if why else "")
        if comment.startswith("tuned:"):  # a flow mapping whose other number changed too
            note = f"{comment}; {note}"
        elif comment:
            note = f"{note}; {comment}"
        padded = changed.ljust(len(code)) if comment and code != code.rstrip() else f"{changed.rstrip()}  "
        lines[index] = f"{padded}# {note}"
        return
    raise CandidateError(f"{source}:{start}: cannot find '{key}:' to change {number(old)} -> {number(new)}")


def _split_comment(line: str) -> tuple[str, str]:
    """The code and the comment's text (without '#'); a '#' inside quotes is not a comment."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1] in " \t"):
            return line[:index], line[index + 1:].strip()
    return line, ""


def _set_version(lines: list[str], old: str, new: str, source: str) -> None:
    for index, line in enumerate(lines):
        if re.match(r"version:", line):
            lines[index] = f'version: "{new}"  # tuned from {old}'
            return
    raise CandidateError(f"{source}: no top-level 'version:' line to change")


def _check(text: str, source: str, changes: Mapping[str, tuple[float, float]], promote: float,
           demote: Any, version: str) -> None:
    model = parse_model(text, source)
    found = {rule.id: rule.points for rule in model.rules} | {f"fit:{rule.id}": rule.points for rule in model.fit_rules}
    wrong = [name for name, (_, new) in changes.items() if found.get(name) != new]
    if wrong or model.promote_threshold != promote or model.demote_threshold != demote or model.version != version:
        raise CandidateError(f"{source}: the model file's layout defeated the candidate editor (check "
                             f"{', '.join(wrong) or 'the thresholds and version'}); change the points by hand")


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        old_name, new_name))
