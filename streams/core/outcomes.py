"""What sales made of a prospect: its CRM verdicts grouped into the promotions sales actually judged.

Why: backtesting a model asks "of the leads this model sends, how many would sales reject?".
The only answers we have are the verdicts sales gave on the promotions they actually saw
(the selective-labels problem). So the verdicts in a prospect's history are cut into
*episodes*, one per promotion sales saw: a run of verdicts that ends with a closing one
(won, lost, disqualified) or is still open. A lead a candidate model promotes at time ``P``
takes the outcome of the first episode that had not closed yet at ``P``, or of the last one if
``P`` comes within ``GRACE_MS`` (30 days) of its close: the same burst of interest sales
judged, seen a little later. A prospect sales never judged, or a promotion later than that,
was never judged by sales: its outcome is unknown, counted apart, never as good or bad.

A lost deal counts as a rejection like a disqualification: either way, sales got no deal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from schemas.records import CrmFeedback

WON = "won"
REJECTED = "rejected"
OPEN = "open"
CLOSING = {"won": WON, "lost": REJECTED, "disqualified": REJECTED}
ACCEPTING = frozenset({"accepted", "contacted", "won"})
GRACE_MS = 30 * 86_400_000


@dataclass(frozen=True, slots=True)
class Episode:
    """One promotion sales judged: when they first said something, when (and how) it closed."""

    judged_at: int  # the first verdict
    ended_at: int | None  # the closing verdict (won, lost, disqualified); None while open
    result: str  # WON, REJECTED or OPEN
    accepted: bool  # sales accepted or contacted it (or won it) at some point
    value: float  # the deal value of a won deal (0.0 otherwise)

    def covers(self, promoted_at: int) -> bool:
        """A promotion at this time is this episode's if the episode had not closed yet."""
        return self.ended_at is None or promoted_at <= self.ended_at


def episodes(verdicts: Iterable[CrmFeedback]) -> tuple[Episode, ...]:
    """The episodes of verdicts given in canonical order (time, receive time, id)."""
    out: list[Episode] = []
    judged_at: int | None = None
    accepted = False
    for verdict in verdicts:
        if judged_at is None:
            judged_at, accepted = verdict.occurred_at, False
        accepted = accepted or verdict.type in ACCEPTING
        result = CLOSING.get(verdict.type)
        if result is not None:
            value = float(verdict.deal_value or 0.0) if result == WON else 0.0
            out.append(Episode(judged_at, verdict.occurred_at, result, accepted, value))
            judged_at = None
    if judged_at is not None:
        out.append(Episode(judged_at, None, OPEN, accepted, 0.0))
    return tuple(out)


def outcome_for(judged: tuple[Episode, ...], promoted_at: int, grace_ms: int = GRACE_MS) -> Episode | None:
    """The episode a promotion at ``promoted_at`` belongs to, or None: sales never judged it (outcome unknown)."""
    for episode in judged:
        if episode.covers(promoted_at):
            return episode
    last = judged[-1] if judged else None
    if last is not None and promoted_at <= last.ended_at + grace_ms:  # type: ignore[operator]
        return last
    return None


def closing(judged: tuple[Episode, ...]) -> Episode | None:
    """The first episode that closed (won or rejected): whose score distribution the report draws."""
    for episode in judged:
        if episode.result != OPEN:
            return episode
    return None
