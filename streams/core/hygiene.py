"""Clean strings at the door: the one check every text the collector accepts goes through.

Why: every string a sender writes travels on to the CRM's PostgreSQL, to `leadflow
explain` and `leadflow dlq list` on an operator's terminal, and to webhooks. PostgreSQL
refuses NUL in text, so one form post with ``"company": "a\\u0000"`` used to poison a
prospect's profile and dead-letter every later update of that lead; control characters
and ANSI escape sequences (ESC, CSI) rewrite an operator's terminal; lone surrogates
cannot be encoded at all. The collector therefore checks each accepted record once, here,
at one point per path:

- :func:`checked` (events API, website tracker, forms): a record with a forbidden character
  or an over-long field is refused with a reason naming the field (per item for batches);
- :func:`cleaned` (email-provider webhooks): the same characters are removed and over-long
  text cut, since a vendor cannot fix its batch and must never see it refused for that;
- :func:`check_text` for the other records (CRM verdicts).

Forbidden everywhere: C0 controls (U+0000-U+001F), DEL, C1 controls (U+0080-U+009F, which
include the 8-bit CSI) and surrogates. ESC is a C0 control, so no ANSI escape sequence can
pass. Tab, line feed and carriage return are allowed only in free text (property and trait
values), never in ids, names, URLs, emails or keys. Everything else in Unicode (accents,
CJK, RTL scripts, emoji, quotes, backslashes, ``%s``, SQL-looking text) is data and is kept
as sent: it is stored with bound parameters and displayed escaped.

Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Literal, Mapping

from schemas.records import Interaction

Kind = Literal["line", "text"]
MAX_KEY = 100  # property and trait names
MAX_VALUE = 8192  # property and trait values (a form field is held to 2,000 by the form endpoint already)
MAX_EMAIL = 254
MAX_URL = 4096
MAX_LINE = 1000  # other single-line fields: titles, campaigns, message ids
# field -> (most characters, kind); the README's "Clean input" table documents these
LIMITS: dict[str, tuple[int, Kind]] = {
    "event_id": (300, "line"), "prospect_key": (300, "line"), "prospect_id": (300, "line"),
    "anonymous_id": (200, "line"), "email": (MAX_EMAIL, "line"), "type": (100, "line"), "source": (100, "line"),
    "event": (200, "line"), "url": (MAX_URL, "line"), "referrer": (MAX_URL, "line"), "title": (MAX_LINE, "line"),
    "campaign": (MAX_LINE, "line"), "message_id": (MAX_LINE, "line"), "form_id": (100, "line"),
}
HEADER_FIELDS = ("ip", "user_agent")  # the collector's own reading of request headers: cleaned, never refused
_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


class Unclean(ValueError):
    """A text is unusable; the message names the field and says why."""


def problem(value: str, limit: int, kind: Kind = "line") -> str | None:
    """Why ``value`` cannot be kept, or None."""
    bad = (_LINE if kind == "line" else _TEXT).search(value)
    if bad:
        return f"contains the control character U+{ord(bad.group()):04X}"
    if len(value) > limit:
        return f"is longer than {limit} characters"
    return None


def check_text(name: str, value: str, limit: int, kind: Kind = "line") -> str:
    """``value`` as it is, or Unclean naming the field."""
    reason = problem(value, limit, kind)
    if reason:
        raise Unclean(f"{name[:60]!r} {reason}" if name else reason)
    return value


def strip(value: str, limit: int, kind: Kind = "line") -> str:
    """``value`` without forbidden characters, cut to ``limit``."""
    return (_LINE if kind == "line" else _TEXT).sub("", value)[:limit]


def _check_map(name: str, values: Mapping[str, str]) -> None:
    for key, value in values.items():
        check_text(f"{name} key {key[:60]!r}", key, MAX_KEY)
        check_text(f"{name}.{key[:60]}", value, MAX_VALUE, "text")


def checked(interaction: Interaction) -> Interaction:
    """The interaction as it is, or Unclean naming the first bad field (header-derived fields are cleaned)."""
    for name, (limit, kind) in LIMITS.items():
        value = getattr(interaction, name)
        if value is not None:
            check_text(name, value, limit, kind)
    _check_map("properties", interaction.properties)
    _check_map("traits", interaction.traits)
    return _clean_headers(interaction)


def checked_all(interactions: list[Interaction]) -> list[Interaction]:
    return [checked(interaction) for interaction in interactions]


def cleaned(interaction: Interaction) -> Interaction:
    """The interaction with every forbidden character removed and every text cut to its limit."""
    changes: dict[str, object] = {}
    for name, (limit, kind) in LIMITS.items():
        value = getattr(interaction, name)
        if value is not None and problem(value, limit, kind):
            changes[name] = strip(value, limit, kind)
    for name in ("properties", "traits"):
        values: Mapping[str, str] = getattr(interaction, name)
        if any(problem(k, MAX_KEY) or problem(v, MAX_VALUE, "text") for k, v in values.items()):
            changes[name] = {strip(k, MAX_KEY): strip(v, MAX_VALUE, "text") for k, v in values.items()
                             if strip(k, MAX_KEY)}
    return _clean_headers(replace(interaction, **changes) if changes else interaction)


def _clean_headers(interaction: Interaction) -> Interaction:
    changes = {name: strip(getattr(interaction, name), MAX_LINE) or None for name in HEADER_FIELDS
               if getattr(interaction, name) is not None and problem(getattr(interaction, name), MAX_LINE)}
    return replace(interaction, **changes) if changes else interaction
