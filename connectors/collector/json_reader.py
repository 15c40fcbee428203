"""The one JSON reader of the collector: bounded nesting and bounded numbers, every failure a clear reason.

Why: the collector parses what anyone on the internet sends. ``json.loads`` alone has
three ways to turn hostile input into a 5xx: ``[`` repeated 100,000 times raises
RecursionError, a 5,000-digit number raises a plain ValueError (Python's int digit limit)
that parsers catching only JSONDecodeError miss, and ``1e999`` / ``NaN`` become floats no
record can carry. A ``\ud800`` escape decodes to a lone surrogate that no UTF-8 encoder
accepts (hashing, signing, Avro and PostgreSQL all fail on it): it is read as U+FFFD, the
replacement character, so nothing after the reader meets one. Every JSON-reading path (events API, tracker, forms, CRM feedback, each
webhook) goes through :func:`read_json`, which raises :class:`NotJson` (a ValueError) for
all of them, so each endpoint turns any bad body into its 4xx.

Pure: no I/O.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

MAX_DEPTH = 32  # arrays and objects inside each other; no sender nests deeper
MAX_NUMBER_CHARS = 30  # digits (with sign, point and exponent) of one number: more than any id or amount


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class NotJson(ValueError):
    """The document is unusable; the message is the reason for the sender."""


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise NotJson(f"body is not JSON: a number has more than {MAX_NUMBER_CHARS} characters")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise NotJson(f"body is not JSON: a number has more than {MAX_NUMBER_CHARS} characters")
    value = float(text)
    if not math.isfinite(value):
        raise NotJson(f"body is not JSON: number {text!r} is out of range")
    return value


def _constant(name: str) -> float:
    raise NotJson(f"body is not JSON: {name} is not a JSON value")


def read_json(body: bytes | str) -> Any:
    """The document in ``body`` (UTF-8), or NotJson with the reason; at most MAX_DEPTH levels of nesting."""
    try:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
    except UnicodeDecodeError:
        raise NotJson("body is not JSON: it is not UTF-8") from None
    if not isinstance(text, str):
        raise NotJson("body is not JSON: expected a JSON text")
    try:
        doc = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except NotJson:
        raise
    except RecursionError:
        raise NotJson(f"body is not JSON: it nests deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:  # JSONDecodeError
        raise NotJson(f"body is not JSON: {str(exc)[:120]}") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and depth(doc) > MAX_DEPTH:
        raise NotJson(f"body is not JSON: it nests deeper than {MAX_DEPTH} levels")
    return _without_surrogates(doc) if _SURROGATE_ESCAPE.search(text) else doc


def _without_surrogates(value: Any) -> Any:
    """Lone surrogates (valid pairs were joined by the parser) replaced by U+FFFD; depth is bounded already."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace") if _SURROGATE.search(value) else value
    if isinstance(value, list):
        return [_without_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_surrogates(k): _without_surrogates(v) for k, v in value.items()}
    return value


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
