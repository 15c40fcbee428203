"""Untrusted text on an operator's terminal: control characters shown escaped, never interpreted.

Why: `leadflow explain` and `leadflow dlq list` print what senders wrote (emails, event ids,
profile values, error messages quoting them). The collector refuses control characters at
the door (``streams.core.hygiene``), but records written before that, or by other
producers, may still hold them; an ESC sequence printed raw recolours, moves the cursor
or retitles the operator's terminal, and bidi overrides reorder what the operator reads.
This is the second line of defence: every line these commands print goes through
:func:`printable`. Pure.
"""

from __future__ import annotations

import re

# C0 (tab included: it would misalign tables), DEL, C1, bidi embeddings/overrides/isolates, line and paragraph
# separators, and lone surrogates
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(line: str) -> str:
    """One line of output with every unsafe character as a visible escape (``\\x1b``, ``\\u202e``)."""
    return _UNSAFE.sub(_escape, line)


def printable_lines(text: str) -> str:
    """Several lines (joined by ``\\n``, which stays) made printable one by one."""
    return "\n".join(printable(line) for line in text.split("\n"))
