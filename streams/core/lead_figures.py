"""The leads a model sends to sales at one threshold, and what sales made of them: one type for the backtest's
rows, the tuner's figures per period and the report's tables.

Why one type: both commands answer the same question (how many leads, how many judged, rejected, won, for how
much) over different spans, and the report prints both; two types with the same fields drift apart (a column
added to one, a rate computed two ways). What only one of them knows is optional: the backtest's median time to
promotion, the tuner's period length.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LeadFigures:
    """Leads at ``threshold``: judged = won + rejected + open; unknown: never judged (counted apart)."""

    threshold: float
    leads: int
    judged: int
    accepted: int
    rejected: int
    won: int
    open: int
    unknown: int
    won_value: float
    median_days_to_promotion: float | None = None  # the backtest's: first touch to first promotion
    periods: float | None = None  # the tuner's: the period's length in months or weeks

    @property
    def reject_rate(self) -> float | None:
        """Rejected / judged; None when sales judged none of them."""
        return self.rejected / self.judged if self.judged else None

    @property
    def value_per_lead(self) -> float | None:
        """Won value / judged leads."""
        return self.won_value / self.judged if self.judged else None

    @property
    def unknown_share(self) -> float:
        return self.unknown / self.leads if self.leads else 0.0

    @property
    def leads_per_period(self) -> float:
        assert self.periods is not None, "leads per period: figures of a period (the tuner's)"
        return self.leads / self.periods
