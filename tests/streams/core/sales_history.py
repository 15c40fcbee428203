"""The tests' view of `leadflow synthetic`'s history (``leadflow/synthetic_history.py``, the one ground-truth
generator): the shipped model plays sales' filter there, and is the model the tests backtest and tune; which of
its rules that ground truth says predict won deals, and which predict nothing."""

from __future__ import annotations

from functools import lru_cache

from leadflow.config import DEFAULT_MODEL
from leadflow.synthetic_history import Settings, histories
from streams.core.history import Input
from streams.core.model import parse_model

MODEL_TEXT = DEFAULT_MODEL.read_text()
MODEL = parse_model(MODEL_TEXT, "default.yaml")
PREDICTIVE = ("pricing-page", "demo-request", "webinar-attended", "fit:senior-title")  # the truth's four signals
NOISE = ("email-open", "email-click", "asset-download", "fit:target-country", "fit:marketing-consent")


@lru_cache(maxsize=4)
def _history(prospects: int, seed: int) -> tuple[tuple[str, tuple[Input, ...]], ...]:
    return tuple((key, tuple(inputs)) for key, inputs in histories(Settings(prospects, seed)))


def history(prospects: int, seed: int = 1) -> list[tuple[str, list[Input]]]:
    """``prospects`` prospects' histories (key, inputs in canonical order), the same for the same seed."""
    return [(key, list(inputs)) for key, inputs in _history(prospects, seed)]
