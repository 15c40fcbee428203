"""The one JSON reader of the collector: bounded nesting and bounded numbers, every failure a clear reason.

Why: the collector parses what anyone on the internet sends. ``json.loads`` alone has
three ways to turn hostile input into a 5xx: ``[`` repeated 100,000 times raises
RecursionError, a 5,000-digit number raises a plain ValueError (Python's int digit limit)
that parsers catching only JSONDecodeError miss, and ``1e999`` / ``NaN`` become floats no
record can carry. Every JSON-reading path (events API, tracker, forms, CRM feedback, each
webhook) goes through :func:`read_json`, which raises :class:`NotJson` (a ValueError) for
all of them, so each endpoint turns any bad body into its 4xx.

Pure: no I/O.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32  # arrays and objects inside each other; no sender nests deeper
MAX_NUMBER_CHARS = 30  # digits (with sign, point and exponent) of one number: more than any id or amount


class NotJson(ValueError):
    """The document is unusable; the message is the reason for the sender."""


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise NotJson(f"a number has more than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise NotJson(f"a number has more than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"number {text!r} is out of range")
    return value


def _constant(name: str) -> float:
    raise NotJson(f"{name} is not JSON")


def read_json(body: bytes | str) -> Any:
    """The document in ``body`` (UTF-8), or NotJson with the reason; at most MAX_DEPTH levels of nesting."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    except UnicodeDecodeError:
        raise NotJson("body is not UTF-8") from None
    if not isinstance(text, str):
        raise NotJson("expected a JSON text")
    try:
        doc = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except NotJson:
        raise
    except RecursionError:
        raise NotJson(f"JSON nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError
        raise NotJson(f"body is not JSON: {str(exc)[:120]}") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and depth(doc) > MAX_DEPTH:
        raise NotJson(f"JSON nests deeper than {MAX_DEPTH} levels")
    return doc


def depth(doc: Any) -> int:
    """Levels of arrays and objects (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        level += 1
        if level > deepest:
            deepest = level
            if deepest > MAX_DEPTH:
                return deepest
        stack.extend((child, level) for child in children)
    return deepest
