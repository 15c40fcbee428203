"""A prospect's history entries as arrays in its stored state, a field the entry before had too written as 0.

An interaction is ``["i", field, ...]`` in record order (fields a schema adds later go at
the end; older arrays lack them); a CRM verdict is ``["f", field, ...]``. From format 7, a
text or mapping field equal to the same field of the interaction before it in the same array
(a chunk, or a list kept in the state's head) is written as ``0``, which no such field can
hold: the prospect's key, id and email, the source, most types and pages repeat from one
input to the next.

Why: a live history entry held its own copy of each of those strings (and two empty
dicts), ~830 bytes an entry, and history was a third of a million-name worker's memory;
read back, the entries now share them with the entry before (~330 bytes). The arrays are a
third shorter on disk and in the changelog, and parsing them makes fewer strings. Arrays
written before format 7 have no 0s and read as they are. Each array stands alone: its first
interaction is written whole, so a chunk decodes without the chunk before it.
"""

from __future__ import annotations

import dataclasses
from operator import attrgetter
from typing import Any, Callable, Sequence

from schemas.records import CrmFeedback, Interaction, slot_filler
from streams.core.history import Input

SAME = 0  # in place of a text or mapping field equal to the previous interaction's
_NAMES = [f.name for f in dataclasses.fields(Interaction)]
# repeatable: text and mapping fields, but not the event id (never repeated)
_REPEATABLE = [n for n, f in enumerate(dataclasses.fields(Interaction))
               if f.name != "event_id" and str(f.type).startswith(("str", "Mapping"))]
_WHOLE = attrgetter(*_NAMES)
_FEEDBACK = attrgetter(*(f.name for f in dataclasses.fields(CrmFeedback)))
_fill_whole = slot_filler(Interaction, "in_order", skip=1)


Row = Callable[[Interaction, Interaction], tuple]
Fill = Callable[[Sequence[Any], Interaction], Interaction]


def _compiled() -> tuple[Row, Fill]:
    """(row of an interaction after another, interaction from such a row): one line per field, like
    ``slot_filler``, since they run per history entry written and read."""
    scope: dict[str, Any] = {"new": object.__new__, "cls": Interaction}
    row, fill = [], []
    for n, name in enumerate(_NAMES):
        scope[f"set{n}"] = getattr(Interaction, name).__set__
        if n in _REPEATABLE:
            row.append(f"{SAME!r} if (x{n} := e.{name}) == p.{name} else x{n}")
            fill.append(f"    x = v[{n + 1}]; set{n}(r, p.{name} if x.__class__ is int else x)")  # SAME
        else:
            row.append(f"e.{name}")
            fill.append(f"    set{n}(r, v[{n + 1}])")
    source = "\n".join([f"def row(e, p):\n    return ('i', {', '.join(row)})",
                        "def fill(v, p):", "    r = new(cls)", *fill, "    return r"])
    exec(source, scope)  # noqa: S102 (built from the record's field names)
    return scope["row"], scope["fill"]


_row_after, _fill_after = _compiled()


def encode(entries: Sequence[Input], after: Input | None = None) -> list[tuple]:
    """The arrays of ``entries``; ``after``: the entry before them in the same array (their first may then
    repeat its fields)."""
    rows: list[tuple] = []
    previous = after if type(after) is Interaction else None
    for entry in entries:
        if type(entry) is Interaction:
            rows.append(("i", *_WHOLE(entry)) if previous is None else _row_after(entry, previous))
            previous = entry
        else:
            rows.append(("f", *_FEEDBACK(entry)))
    return rows


def decode(rows: Sequence[Sequence[Any]]) -> list[Input]:
    entries: list[Input] = []
    previous: Interaction | None = None
    complete = len(_NAMES) + 1
    for values in rows:
        if values[0] != "i":
            entries.append(CrmFeedback(*values[1:]))
            continue
        if len(values) != complete:  # written before this version's schema: the constructor fills what is new
            previous = _older(values, previous)
        elif previous is None:
            previous = _fill_whole(values)
        else:
            previous = _fill_after(values, previous)
        entries.append(previous)
    return entries


def _older(values: Sequence[Any], previous: Interaction | None) -> Interaction:
    fields = list(values[1:])
    if previous is not None:
        for n in _REPEATABLE:
            if n < len(fields) and fields[n].__class__ is int:
                fields[n] = getattr(previous, _NAMES[n])
    return Interaction(*fields)
