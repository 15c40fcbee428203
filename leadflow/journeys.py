"""Realistic prospect journeys for `leadflow demo`: who does what, and when, as requests to the collector.

Pure: a plan is a list of timed steps (an events-API item or a CRM verdict) built from a
seed, so the same seed gives the same demo. Each journey shows one thing the product does:

- champion: browses anonymously, fills the demo-request form (the anonymous visits merge
  into the person), opens and clicks the follow-up email; sales accepts in time (SLA met)
  and later wins the deal;
- unanswered: requests a demo and gets no answer: the SLA clock breaches and escalates;
- disqualified: requests a demo; sales disqualifies it: the lead is recycled to nurture;
- nurture: reads emails and blog posts, stays under the threshold;
- bounced / unsubscriber: a hard bounce; an open, then an unsubscribe (negative points).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

SITE = "https://www.example.com"
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Cyberdyne"]
TITLES = ["CTO", "VP Engineering", "Head of Data", "Developer", "Marketing Manager", "Director of IT", "Analyst"]
FIRST = ["ada", "grace", "alan", "edsger", "barbara", "ken", "margaret", "dennis", "radia", "linus", "frances", "john"]
JOURNEYS = ("champion", "unanswered", "disqualified", "nurture", "bounced", "unsubscriber")


@dataclass(frozen=True)
class Step:
    at_s: float  # seconds after the demo starts
    journey: str
    email: str
    kind: str  # "event" (POST /v1/events item) or "verdict" (POST /v1/crm/feedback item)
    body: dict[str, Any]


def plan(prospects: int, seed: int = 7, span_s: float = 25.0) -> list[Step]:
    """``prospects`` journeys (at least one of each kind), started over ``span_s`` seconds, in time order."""
    rng = random.Random(seed)
    kinds = list(JOURNEYS) + [rng.choice(("champion", "nurture", "nurture", "disqualified")) for _ in
                              range(max(0, prospects - len(JOURNEYS)))]
    steps: list[Step] = []
    for n, kind in enumerate(kinds):
        email = f"{FIRST[n % len(FIRST)]}.{n}@{COMPANIES[n % len(COMPANIES)].lower()}.example"
        start = 0.0 if n < len(JOURNEYS) else rng.uniform(0, span_s)
        steps += _JOURNEY[kind](_Journey(kind, email, start, rng, n))
    return sorted(steps, key=lambda s: s.at_s)


class _Journey:
    def __init__(self, kind: str, email: str, start: float, rng: random.Random, n: int) -> None:
        self.kind, self.email, self.at, self.rng, self.n = kind, email, start, rng, n
        self.count = 0
        self.browsed_anonymously = False
        self.steps: list[Step] = []

    def wait(self, low: float, high: float) -> _Journey:
        self.at += self.rng.uniform(low, high)
        return self

    def event(self, item: dict[str, Any], anonymous: bool = False) -> _Journey:
        self.count += 1
        self.browsed_anonymously |= anonymous
        identity = {"anonymousId": f"anon-{self.n}"} if anonymous else {"email": self.email}
        body = {**identity, "messageId": f"demo-{self.n}-{self.count}", **item}
        self.steps.append(Step(round(self.at, 2), self.kind, self.email, "event", body))
        return self

    def page(self, path: str, anonymous: bool = False) -> _Journey:
        return self.event({"type": "page", "properties": {"url": SITE + path}}, anonymous)

    def track(self, event: str, **properties: Any) -> _Journey:
        return self.event({"type": "track", "event": event, "properties": properties})

    def identify(self) -> _Journey:
        """Name and company, e.g. from a form; the visitor's anonymous history joins the person."""
        traits = {"company": COMPANIES[self.n % len(COMPANIES)], "job_title": self.rng.choice(TITLES)}
        link = {"anonymousId": f"anon-{self.n}"} if self.browsed_anonymously else {}
        return self.event({"type": "identify", **link, "traits": traits})

    def verdict(self, verdict: str, **extra: Any) -> _Journey:
        self.steps.append(Step(round(self.at, 2), self.kind, self.email, "verdict",
                               {"email": self.email, "verdict": verdict, "id": f"demo-crm-{self.n}-{verdict}",
                                **extra}))
        return self


def _champion(j: _Journey) -> list[Step]:
    j.page("/", anonymous=True).wait(1, 2).page("/product", anonymous=True).wait(1, 2)
    j.page("/pricing", anonymous=True).wait(1, 2).identify().wait(0.5, 1)
    j.track("form.submitted", form_id="demo-request").wait(2, 4).track("email.opened", campaign="demo-follow-up")
    j.wait(1, 2).track("email.clicked", campaign="demo-follow-up").wait(2, 4).verdict("accepted", owner="sam.rep")
    return j.wait(5, 8).verdict("won", deal_value=float(j.rng.choice((12_000, 24_000, 48_000)))).steps


def _unanswered(j: _Journey) -> list[Step]:
    return j.identify().wait(1, 2).page("/pricing").wait(1, 2).track("form.submitted", form_id="demo-request").steps


def _disqualified(j: _Journey) -> list[Step]:
    j.identify().wait(1, 2).track("form.submitted", form_id="demo-request").wait(4, 6)
    return j.verdict("disqualified", reason="student project").steps


def _nurture(j: _Journey) -> list[Step]:
    j.track("email.opened", campaign="newsletter").wait(2, 5).page("/blog/real-time-lead-scoring").wait(2, 5)
    return j.track("email.clicked", campaign="newsletter").wait(2, 5).page("/docs").steps


def _bounced(j: _Journey) -> list[Step]:
    return j.track("email.bounced", campaign="newsletter").steps


def _unsubscriber(j: _Journey) -> list[Step]:
    return j.track("email.opened", campaign="newsletter").wait(2, 4).track("email.unsubscribed").steps


_JOURNEY = {"champion": _champion, "unanswered": _unanswered, "disqualified": _disqualified, "nurture": _nurture,
            "bounced": _bounced, "unsubscriber": _unsubscriber}
