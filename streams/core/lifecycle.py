"""Lifecycle stages and the transitions scoring can cause."""

from __future__ import annotations

NAME = "name"
LEAD = "lead"
STAGES = (NAME, LEAD)


def promotes(stage: str, total: float, threshold: float, known: bool) -> bool:
    """Only a known person (an email to hand to sales) can become a lead."""
    return stage == NAME and known and total >= threshold
