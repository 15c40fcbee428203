"""Lifecycle stages and transitions.

name -> lead (score reaches the promotion threshold) -> accepted / contacted -> won | lost |
disqualified (CRM verdicts). Lost and disqualified leads are recycled to nurture under the
model's score policy and promoted again when interest returns. A lead nobody accepted
whose score decays below the demotion threshold goes back to name; the gap between the
two thresholds keeps it from flapping.
"""

from __future__ import annotations

NAME = "name"
LEAD = "lead"
ACCEPTED = "accepted"
CONTACTED = "contacted"
WON = "won"
NURTURE = "nurture"
STAGES = (NAME, LEAD, ACCEPTED, CONTACTED, WON, NURTURE)
VERDICTS = ("accepted", "contacted", "won", "lost", "disqualified")
RECYCLING_VERDICTS = frozenset({"lost", "disqualified"})
_PROMOTABLE = frozenset({NAME, NURTURE})
IN_SALES = frozenset({LEAD, ACCEPTED, CONTACTED, WON})  # stages whose changes the CRM hears about


def after_score(stage: str, total: float, promote: float, demote: float | None, known: bool) -> str | None:
    """The stage a new score leads to, or None for no change. Only a known person (an email to hand to
    sales) can become a lead; only a lead nobody accepted yet can be demoted."""
    if stage in _PROMOTABLE:
        return LEAD if known and total >= promote else None
    if stage == LEAD and demote is not None and total < demote:
        return NAME
    return None


def after_verdict(stage: str, verdict: str) -> str | None:
    """The stage a CRM verdict leads to, or None when it does not apply (e.g. 'accepted' for a name)."""
    if stage not in IN_SALES and verdict != "won":
        return None
    if verdict in RECYCLING_VERDICTS:
        return NURTURE
    if verdict == "contacted" and stage in (LEAD, ACCEPTED):
        return CONTACTED
    if verdict == "accepted" and stage == LEAD:
        return ACCEPTED
    if verdict == "won":
        return WON
    return None
