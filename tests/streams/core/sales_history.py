"""A tiny seeded sales history with a known truth, for the backtest and tuning tests.

Smaller and plainer than `leadflow synthetic` (``leadflow/synthetic_history.py``, which the
CLI test and the benchmark use): its own seven-rule model plays sales' filter, so the right
direction for every rule is unambiguous and a tuning run takes seconds. Each prospect is a
buyer or not (hidden). Buyers view the pricing page more often, ask for
demos and attend webinars more; everyone opens newsletters alike, and some people open
a lot: newsletter opens predict nothing. Sales judge the promotions the *deployed* model
(``MODEL``) made: a buyer's lead is mostly won, anyone else's mostly disqualified or lost, a
few stay open and some are never judged. So a tuner should move pricing, demo and webinar
points up and newsletter points down.
"""

from __future__ import annotations

import random

from schemas.records import CrmFeedback, Interaction
from streams.core.history import Input, canonical_order
from streams.core.model import parse_model
from streams.core.trajectory import trajectory

DAY = 86_400_000
START = 1_735_689_600_000  # 2025-01-01
MODEL_TEXT = """\
version: truth-1
defaults: {half_life: 120d}
thresholds:
  promote: 50               # a known prospect at or above this becomes a lead
  demote: 30
rules:
  - id: newsletter-open
    when: {type: email.opened}
    points: 10
    cap: {max: 2, per: 1d}
  - id: pricing-page
    when: {type: page.viewed, url_contains: /pricing}
    points: 15
  - id: page-view
    when: {type: page.viewed}
    points: 1
    cap: {max: 5, per: 1d}
  - id: demo-request
    when: {type: form.submitted, form_id: demo}
    points: 25
    once: true
  - id: webinar
    when: {type: webinar.attended}
    points: 10
  - id: bounce
    when: {type: email.bounced}
    points: -10
fit:
  - id: senior
    when: {attribute: job_title, regex: "(?i)\\\\b(vp|head|director)\\\\b"}
    points: 10
"""
MODEL = parse_model(MODEL_TEXT, "truth.yaml")


def history(prospects: int, seed: int = 7, days: int = 360) -> list[tuple[str, list[Input]]]:
    """``prospects`` histories (key, inputs in canonical order), the same for the same seed."""
    rng = random.Random(seed)
    out = []
    for n in range(prospects):
        key = f"p_{n:08x}"
        buyer = rng.random() < 0.3
        start = START + rng.randrange(days - 40) * DAY
        events: list[Input] = []
        serial = 0

        def add(type_: str, day: float, **fields) -> None:
            nonlocal serial
            at = start + int(day * DAY) + serial
            serial += 1
            events.append(Interaction(event_id=f"{key}-{serial}", prospect_key=key, type=type_, occurred_at=at,
                                      received_at=at, source="test", prospect_id=key, email=f"{key}@example.com",
                                      **fields))

        title = rng.choice(["VP Sales", "Engineer", "Head of Ops", "Analyst", "Student"])
        add("profile.updated", 0, traits={"job_title": title})
        for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 12])):  # newsletter opens: anyone, some a lot
            add("email.opened", rng.uniform(0, 40), campaign="newsletter")
        for _ in range(rng.randint(1, 6)):
            add("page.viewed", rng.uniform(0, 40), url="https://example.com/blog")
        for _ in range(rng.choice([1, 2, 3, 3]) if buyer else rng.choice([0, 0, 0, 1])):
            add("page.viewed", rng.uniform(0, 40), url="https://example.com/pricing")
        if rng.random() < (0.6 if buyer else 0.08):
            add("form.submitted", rng.uniform(5, 40), form_id="demo")
        if rng.random() < (0.5 if buyer else 0.2):
            add("webinar.attended", rng.uniform(0, 40))
        if rng.random() < 0.05:
            add("email.bounced", rng.uniform(0, 40))
        interactions = canonical_order(events)
        promoted = trajectory(key, interactions, MODEL).promoted_at(MODEL.promote_threshold)  # type: ignore[arg-type]
        if promoted is not None:
            events.extend(_verdicts(rng, key, buyer, promoted))
        out.append((key, canonical_order(events)))
    return out


def _verdicts(rng: random.Random, key: str, buyer: bool, promoted: int) -> list[CrmFeedback]:
    """What sales said about the promotion they saw (nothing, for one lead in ten)."""
    draw = rng.random()
    if draw < 0.1:
        return []
    at = promoted + rng.randint(1, 5) * DAY
    fate = rng.random()
    if buyer:
        kinds = ["accepted", "won"] if fate < 0.7 else ["accepted"] if fate < 0.8 else ["accepted", "lost"]
    else:
        kinds = ["disqualified"] if fate < 0.75 else ["accepted", "lost"] if fate < 0.9 else \
            ["accepted"] if fate < 0.95 else ["accepted", "won"]
    out = []
    for n, kind in enumerate(kinds):
        value = float(rng.randrange(5, 50) * 1000) if kind == "won" else None
        out.append(CrmFeedback(event_id=f"{key}-v{n}", prospect_id=key, type=kind, occurred_at=at + n * 20 * DAY,
                               received_at=at + n * 20 * DAY, deal_value=value))
    return out
