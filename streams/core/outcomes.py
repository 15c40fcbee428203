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

Each episode belongs to one lead (``claim``): a prospect a candidate promotes, sales reject
and the worker recycles (the episode's close) can be promoted again, and that re-promotion
is a lead of its own, with the next episode sales judged or none. A lead whose episode is
won or still open stays with sales; one that took a closed episode by the grace rule, or
whose outcome is unknown, was never recycled by a verdict: no lead follows either.

A lost deal counts as a rejection like a disqualification: either way, sales got no deal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, NamedTuple

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
    recycle: int | None = None  # a rejection: which of the prospect's recycles (``recycles``) it was


def episodes(verdicts: Iterable[CrmFeedback]) -> tuple[Episode, ...]:
    """The episodes of verdicts given in canonical order (time, receive time, id)."""
    out: list[Episode] = []
    judged_at: int | None = None
    accepted = False
    rejections = 0
    for verdict in verdicts:
        if judged_at is None:
            judged_at, accepted = verdict.occurred_at, False
        accepted = accepted or verdict.type in ACCEPTING
        result = CLOSING.get(verdict.type)
        if result is not None:
            value = float(verdict.deal_value or 0.0) if result == WON else 0.0
            recycle = None
            if result == REJECTED:
                recycle, rejections = rejections, rejections + 1
            out.append(Episode(judged_at, verdict.occurred_at, result, accepted, value, recycle))
            judged_at = None
    if judged_at is not None:
        out.append(Episode(judged_at, None, OPEN, accepted, 0.0))
    return tuple(out)


class Claim(NamedTuple):
    """A lead's outcome, and whether sales' verdict on it recycled the prospect so that a later promotion is a
    new lead: ``restart`` numbers the recycle among ``recycles(judged)``, ``after`` the first episode left."""

    episode: Episode | None  # None: outcome unknown
    restart: int | None  # None: no lead follows this one
    after: int


def claim(judged: tuple[Episode, ...], promoted_at: int, first: int = 0, grace_ms: int = GRACE_MS) -> Claim:
    """What a promotion at ``promoted_at`` gets of the episodes from ``first`` on (the ones before belong to the
    prospect's earlier leads): the first that had not closed yet, or the last one within the grace."""
    for index in range(first, len(judged)):
        episode = judged[index]
        if episode.ended_at is None or promoted_at <= episode.ended_at:
            return Claim(episode, episode.recycle, index + 1)
    if first < len(judged) and promoted_at <= judged[-1].ended_at + grace_ms:  # type: ignore[operator]
        return Claim(judged[-1], None, len(judged))
    return Claim(None, None, len(judged))


def recycles(judged: tuple[Episode, ...]) -> tuple[int, ...]:
    """When sales' verdicts recycled the prospect (lost, disqualified): where a rejected lead's successor starts."""
    return tuple(e.ended_at for e in judged if e.recycle is not None)  # type: ignore[misc]


def closing(judged: tuple[Episode, ...]) -> Episode | None:
    """The first episode that closed (won or rejected): whose score distribution the report draws."""
    for episode in judged:
        if episode.result != OPEN:
            return episode
    return None
