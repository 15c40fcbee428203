"""Shows a running stack's status: a panel redrawn in place on a terminal, a line now and then in a log."""

from __future__ import annotations

import sys
import time
import urllib.request
from typing import Callable, TextIO

from leadflow import status

REDRAW_S = 2.0


class StatusBoard:
    def __init__(self, urls: list[str], every_s: float, out: TextIO = sys.stdout,
                 note: Callable[[], str] | None = None) -> None:
        self._urls = urls
        self._note = note
        self._out = out
        self._terminal = out.isatty()
        self._every = REDRAW_S if self._terminal else every_s
        self._before: tuple[float, status.Totals] | None = None
        self._due = time.monotonic() + self._every
        self._drawn = 0  # lines of the panel on screen, to redraw over

    def message_printed(self) -> None:
        """Someone else wrote to the terminal: the next panel goes below it, not over it."""
        self._drawn = 0

    def tick(self) -> None:
        now = time.monotonic()
        if now < self._due:
            return
        self._due = now + self._every
        totals = status.read_totals(self._pages())
        before_at, before = self._before or (now, totals)
        self._before = (now, totals)
        seconds = now - before_at
        note = self._note() if self._note else ""
        if self._terminal:
            lines = status.panel(before, totals, seconds) + ([note] if note else [])
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            self._out.write(up + "".join(f"\x1b[2K{text}\n" for text in lines))
            self._drawn = len(lines)
        else:
            self._out.write(status.line(before, totals, seconds) + (f"; {note.split(maxsplit=1)[-1]}" if note else "")
                            + "\n")
        self._out.flush()

    def _pages(self) -> list[str]:
        pages = []
        for url in self._urls:
            try:
                with urllib.request.urlopen(url, timeout=1) as response:
                    pages.append(response.read().decode())
            except OSError:
                continue  # a process restarting: its numbers are missing from this reading
        return pages
