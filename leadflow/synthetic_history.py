"""A synthetic sales history with a known ground truth: what `leadflow synthetic` writes
(``leadflow.synthetic_file``), for backtests, the tuner's and the backtest's tests (``histories``, in memory) and
the backtest benchmark.

Why: a tuner can only be tested on data where the right answer is known. Real histories never say which
behaviours caused a deal; this one is drawn from a stated process, so a test can check that tuning moves points
the right way. The file is in the history format (``leadflow.history_file``), so everything that reads an
imported history reads it too.

**Prospects.** Each prospect is a known person (an email, with job title, country, consent, name and company
as traits of their first row) with a persona that sets what they do: *readers* open the newsletter (after
signing up for it with a form) and read the blog; *researchers* read the blog and docs and download blog-kind
assets (checklists, templates); *evaluators* look at the product and the pricing page, attend webinars and
sometimes request a demo; *tourists* glance at a page or two, and a few refresh the pricing page dozens of times
in one afternoon. How many interactions a prospect has is Zipf-distributed: most have 1-5, a head has hundreds.
Their first touch is spread over ``months`` months ending on ``end`` (a fixed date by default).

**Ground truth.** Whether a lead sent to sales is won depends on four signals seen before it was sent, and on
nothing else::

    P(won) = 1 / (1 + exp(-(BASE + demo * W_DEMO + pricing_days * W_PRICING + webinar * W_WEBINAR + senior * W_SENIOR)))

``demo``: a demo request (``form.submitted``, form ``demo-request``); ``pricing_days``: the days with a pricing
page view, at most 3 (a tab refreshed forty times is one day); ``webinar``: a ``webinar.attended``;
``senior``: a senior job title (VP, head, director, chief, CTO). Newsletter opens and clicks, generic page views
(home, blog, docs, product), asset downloads, newsletter sign-up forms, webinar registrations, country and
consent predict nothing: the tuner should take points from them. The weights agree in rank with the shipped
model's points (a pricing day, up to three views of 20 points, weighs about as much as a demo request's 40 plus
a form's 15): with a pricing day at a fifth of a demo request (0.5), the shipped model over-weighted pricing
*relative to this truth*, and tuning rightly took points from it; at 1.0 a test can demand that predictive
rules go up and the others down. A won deal's value is drawn from a log-normal
distribution (median ``DEAL_MEDIAN``), larger for senior buyers and demo requesters. A lead that is not won is
disqualified (``REJECT_DISQUALIFIED`` of them, on first contact) or lost (after contact, without a deal).

**Reference process** (selective labels): which prospects sales saw is decided by the shipped default model
(``leadflow/models/default.yaml``): each prospect's interactions are replayed through the scoring core, and each
promotion sends a lead to sales, who judge it by the ground truth. Prospects never promoted have no outcome;
``UNJUDGED`` of the leads are never judged (outcome unknown); a deal still open when the history ends has no
final verdict; a lost or disqualified lead is recycled and may be promoted (and judged) again.

**Deterministic.** Every draw for prospect ``i`` comes from a generator seeded with (seed, i), so the same seed
and arguments give the same file byte for byte (and prospect ``i`` is the same whatever ``--prospects`` says),
as long as the shipped model, which plays sales' filter, is the same. Rows are written prospect by prospect,
each prospect's rows in canonical order; `leadflow import` sorts them, a backtest can group them as they come.
"""

from __future__ import annotations

import bisect
import math
import random
import time
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timezone
from functools import cached_property
from itertools import accumulate
from typing import Any

from leadflow.config import DEFAULT_MODEL
from leadflow.history_file import Rules, RowConverter
from schemas.records import CrmFeedback, Interaction
from streams.core.history import Input, canonical_order
from streams.core.model import ScoringModel, load_model
from streams.core.prospect import LeadChange, ProspectState, apply

# -- the ground truth ---------------------------------------------------------------------------------------
BASE = -3.0
W_DEMO, W_PRICING, W_WEBINAR, W_SENIOR = 2.4, 1.0, 1.2, 1.0
MAX_PRICING_DAYS = 3
DEAL_MEDIAN = 12_000.0
REJECT_DISQUALIFIED = 0.55  # of the leads not won: disqualified on first contact; the rest are lost later
UNJUDGED = 0.07  # of the leads sent to sales: never judged
# -- the population -----------------------------------------------------------------------------------------
DEFAULT_END = date(2026, 1, 1)
DAY = 86_400_000
MONTH = 30 * DAY + DAY // 2  # 30.5 days
MAX_INTERACTIONS = 400
ZIPF_EXPONENT = 2.0  # P(n) ~ n^-2: 89% of prospects have 1-5 interactions, the mean is about 4
_CUMULATIVE = list(accumulate((n ** -ZIPF_EXPONENT for n in range(1, MAX_INTERACTIONS + 1))))
PERSONAS = {"reader": 0.35, "researcher": 0.28, "evaluator": 0.27, "tourist": 0.10}
MEAN_GAP_DAYS = {"reader": 7.0, "researcher": 5.0, "evaluator": 2.5, "tourist": 3.0}
SESSION = {"reader": 0.15, "researcher": 0.3, "evaluator": 0.4, "tourist": 0.5}  # next interaction minutes later
# what each persona does, by weight; "demo" happens at most once (a repeat becomes a product view)
BEHAVIOURS: dict[str, dict[str, float]] = {
    "reader": {"newsletter-open": 0.62, "newsletter-click": 0.08, "blog-view": 0.22, "home-view": 0.05,
               "pricing-view": 0.03},
    "researcher": {"blog-view": 0.32, "docs-view": 0.2, "blog-download": 0.2, "newsletter-open": 0.14,
                   "webinar-register": 0.05, "pricing-view": 0.04, "case-study-download": 0.05},
    "evaluator": {"pricing-view": 0.22, "product-view": 0.2, "webinar-attend": 0.09, "webinar-register": 0.06,
                  "demo": 0.08, "product-open": 0.1, "product-click": 0.07, "case-study-download": 0.05,
                  "docs-view": 0.08, "home-view": 0.05},
    "tourist": {"home-view": 0.5, "blog-view": 0.4, "product-view": 0.1},
}
REFRESHERS = 0.1  # of the tourists: dozens of pricing-page views in one afternoon
SENIOR_TITLES = ("VP Marketing", "VP of Sales", "Head of Growth", "Director of Marketing", "CTO",
                 "Chief Revenue Officer", "Head of Demand Generation", "Sales Director")
OTHER_TITLES = ("Marketing Manager", "Software Engineer", "Data Analyst", "Sales Representative", "Student",
                "Consultant", "Product Manager", "Growth Marketer", "Office Manager", "Developer Advocate")
SENIOR_SHARE, NO_TITLE_SHARE = 0.15, 0.2
COUNTRIES = {"US": 0.35, "GB": 0.1, "DE": 0.08, "FR": 0.05, "CA": 0.05, "NL": 0.03, "IN": 0.1, "BR": 0.06,
             "ES": 0.04, "AU": 0.04, "JP": 0.03, "PL": 0.03, "MX": 0.04}
CONSENT_SHARE = 0.6
FIRST_NAMES = ("ada", "grace", "alan", "edsger", "barbara", "ken", "margaret", "linus", "radia", "donald",
               "frances", "john", "katherine", "tim", "sophie", "guido", "hedy", "dennis", "annie", "niklaus")
LAST_NAMES = ("lovelace", "hopper", "turing", "dijkstra", "liskov", "thompson", "hamilton", "torvalds",
              "perlman", "knuth", "allen", "backus", "johnson", "lee", "wilson", "rossum", "lamarr", "ritchie",
              "easley", "wirth")
COMPANIES = ("acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "tyrell", "cyberdyne", "soylent",
             "wonka", "gringotts", "oceanic", "vandelay", "dunder", "prestige", "massive", "aperture", "blackmesa",
             "monarch")
REPS = ("sam.rep", "alex.rep", "kim.rep", "lee.rep")
DISQUALIFY_REASONS = ("no budget", "student", "competitor", "wrong contact", "no authority")
LOST_REASONS = ("no decision", "chose a competitor", "timing", "price")
SITE = "https://www.example.com"


def won_probability(demo: bool, pricing_days: int, webinar: bool, senior: bool) -> float:
    """The ground truth: the chance a lead with these signals (seen before it went to sales) is won."""
    logit = BASE + W_DEMO * demo + W_PRICING * min(pricing_days, MAX_PRICING_DAYS) + W_WEBINAR * webinar + \
        W_SENIOR * senior
    return 1 / (1 + math.exp(-logit))


@dataclass(frozen=True)
class Settings:
    prospects: int
    seed: int = 1
    months: int = 12
    end: date = DEFAULT_END

    @cached_property
    def end_ms(self) -> int:
        return int(datetime(self.end.year, self.end.month, self.end.day, tzinfo=timezone.utc).timestamp() * 1000)

    @cached_property
    def start_ms(self) -> int:
        return self.end_ms - self.months * MONTH


@dataclass
class Totals:
    """What a generated file holds, and the ground truth's figures in it."""

    prospects: int = 0
    interactions: int = 0
    outcomes: int = 0
    promotions: int = 0  # leads the reference process sent to sales
    judged: int = 0  # of them, those sales gave a final verdict (won, lost, disqualified)
    won: int = 0
    won_value: float = 0.0
    personas: dict[str, int] = field(default_factory=dict)

    def add(self, other: "Totals") -> None:
        for item in fields(self):
            if item.name != "personas":
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
        for persona, count in other.personas.items():
            self.personas[persona] = self.personas.get(persona, 0) + count


class Generator:
    """One prospect's rows at a time; the reference process is the scoring core under ``model``."""

    def __init__(self, settings: Settings, model: ScoringModel | None = None) -> None:
        self.settings = settings
        self.model = model or load_model(DEFAULT_MODEL)
        # the reader's own conversion: the replay sees exactly the records a reader of the file will see
        self.convert = RowConverter(Rules.default(max(settings.end_ms, time.time_ns() // 1_000_000)))
        self.totals = Totals()

    def prospect(self, index: int) -> list[dict[str, Any]]:
        """Prospect ``index``'s rows in canonical order: its interactions and sales' verdicts on its leads."""
        rng = random.Random((self.settings.seed << 40) | index)
        persona = _pick(rng, PERSONAS)
        senior = rng.random() < SENIOR_SHARE
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        email = f"{first}.{last}.{index}@{company}.example"
        traits = {"first_name": first.title(), "last_name": last.title(), "company": company.title(),
                  "country": _pick(rng, COUNTRIES), "consent": "true" if rng.random() < CONSENT_SHARE else "false"}
        if senior:
            traits["job_title"] = rng.choice(SENIOR_TITLES)
        elif rng.random() >= NO_TITLE_SHARE:
            traits["job_title"] = rng.choice(OTHER_TITLES)
        interactions = self.interactions(rng, index, persona, email, traits)
        rows = self.judged(rng, index, interactions, senior)
        self.totals.prospects += 1
        self.totals.personas[persona] = self.totals.personas.get(persona, 0) + 1
        return rows

    def interactions(self, rng: random.Random, index: int, persona: str, email: str,
                     traits: dict[str, str]) -> list[dict[str, Any]]:
        settings = self.settings
        count = bisect.bisect_left(_CUMULATIVE, rng.random() * _CUMULATIVE[-1]) + 1
        at = settings.start_ms + int(rng.random() * (settings.end_ms - settings.start_ms))
        refresher = persona == "tourist" and rng.random() < REFRESHERS
        kinds = ["pricing-view"] * rng.randint(10, 40) if refresher else \
            _behaviours(rng, persona, count)
        rows: list[dict[str, Any]] = []
        for n, kind in enumerate(kinds):
            if n:
                at += rng.randint(20_000, 600_000) if refresher or rng.random() < SESSION[persona] else \
                    int(rng.expovariate(1 / MEAN_GAP_DAYS[persona]) * DAY) + rng.randint(60_000, 3_600_000)
            if at >= settings.end_ms:
                break
            if kind == "webinar-attend":  # registered first, a few days before
                rows.append(_row(index, len(rows), max(settings.start_ms, at - rng.randint(1, 10) * DAY),
                                 email, "webinar-register"))
            rows.append(_row(index, len(rows), at, email, kind))
        if not rows:
            return rows
        rows.sort(key=lambda r: (r["occurred_at"], r["event_id"]))
        if persona == "reader" and rows[0]["type"] != "form.submitted":  # readers start by signing up
            rows.insert(0, _row(index, len(rows), rows[0]["occurred_at"] - rng.randint(1, 30) * 60_000, email,
                                "newsletter-signup"))
        rows[0]["traits"] = traits
        return rows

    def judged(self, rng: random.Random, index: int, rows: list[dict[str, Any]], senior: bool) -> list[dict[str, Any]]:
        """The rows with sales' verdicts merged in: replay under the reference model, judge each promotion."""
        model, convert = self.model, self.convert
        out: list[dict[str, Any]] = []
        pending: list[tuple[tuple[int, str], dict[str, Any], CrmFeedback]] = []
        state: ProspectState | None = None
        demo = webinar = False
        pricing_days: set[int] = set()
        promotions = 0
        for row in rows:
            record = convert.record(row)
            assert isinstance(record, Interaction)
            while pending and pending[0][0] < (record.occurred_at, record.event_id):
                _, verdict_row, verdict = pending.pop(0)
                apply(state, verdict, model)  # type: ignore[arg-type]
                out.append(verdict_row)
            if state is None:
                state = ProspectState(record.prospect_key, model_version=model.version)
            demo = demo or (record.type == "form.submitted" and record.form_id == "demo-request")
            webinar = webinar or record.type == "webinar.attended"
            if record.type == "page.viewed" and record.url and "/pricing" in record.url:
                pricing_days.add(record.occurred_at // DAY)
            out.append(row)
            for effect in apply(state, record, model).effects:
                if type(effect) is LeadChange and effect.kind == "lead.promoted":
                    chance = won_probability(demo, len(pricing_days), webinar, senior)
                    promotions += 1
                    verdicts = self.sales(rng, index, promotions, row["email"], effect.occurred_at, chance, senior,
                                          demo)
                    pending.extend((self._order(v), v, self._verdict(v)) for v in verdicts)
                    pending.sort(key=lambda p: p[0])
        for _, verdict_row, verdict in pending:
            apply(state, verdict, model)  # type: ignore[arg-type]
            out.append(verdict_row)
        self.totals.interactions += len(rows)
        self.totals.outcomes += len(out) - len(rows)
        return out

    def sales(self, rng: random.Random, index: int, promotion: int, email: str, promoted_at: int, chance: float,
              senior: bool, demo: bool) -> list[dict[str, Any]]:
        """Sales' verdicts on a lead promoted at ``promoted_at``, dated within the history (none after its end)."""
        totals, end = self.totals, self.settings.end_ms
        totals.promotions += 1
        if rng.random() < UNJUDGED:
            return []
        won = rng.random() < chance
        disqualified = not won and rng.random() < REJECT_DISQUALIFIED
        owner = rng.choice(REPS)
        first = promoted_at + 600_000 + int(rng.expovariate(1.0) * DAY)
        if disqualified:
            steps = [(first, "disqualified", {"reason": rng.choice(DISQUALIFY_REASONS)})]
        else:
            final = promoted_at + rng.randint(10, 90) * DAY + rng.randint(0, DAY)
            steps = [(first, "accepted", {}), (first + rng.randint(DAY // 2, 5 * DAY), "contacted", {})]
            if won:
                value = rng.lognormvariate(math.log(DEAL_MEDIAN) + 0.4 * senior + 0.3 * demo, 0.7)
                steps.append((final, "won", {"deal_value": round(value, 2)}))
            else:
                steps.append((final, "lost", {"reason": rng.choice(LOST_REASONS)}))
        out = []
        for n, (at, verdict, extra) in enumerate(steps):
            if at >= end:
                break
            out.append({"kind": "outcome", "event_id": f"syn-{index}-p{promotion}-{n}", "occurred_at": at,
                        "email": email, "verdict": verdict, "owner": owner, **extra})
            if verdict in ("won", "lost", "disqualified"):
                totals.judged += 1
                totals.won += verdict == "won"
                totals.won_value += extra.get("deal_value", 0.0)
        return out

    def _verdict(self, row: dict[str, Any]) -> CrmFeedback:
        record = self.convert.record(row)
        assert isinstance(record, CrmFeedback)
        return record

    @staticmethod
    def _order(row: dict[str, Any]) -> tuple[int, str]:
        return row["occurred_at"], row["event_id"]


def histories(settings: Settings, model: ScoringModel | None = None) -> list[tuple[str, list[Input]]]:
    """The same prospects as records, in this process: (prospect key, inputs in canonical order) for each prospect
    with rows; what the tuner's and the backtest's tests replay without a file."""
    generator = Generator(settings, model)
    out: list[tuple[str, list[Input]]] = []
    for index in range(settings.prospects):
        records = [generator.convert.record(row) for row in generator.prospect(index)]
        if records:
            key = records[0].prospect_key if type(records[0]) is Interaction else records[0].prospect_id
            out.append((key, canonical_order(records)))  # type: ignore[arg-type]
    return out


def _behaviours(rng: random.Random, persona: str, count: int) -> list[str]:
    weights = BEHAVIOURS[persona]
    kinds = rng.choices(list(weights), list(weights.values()), k=count)
    if kinds.count("demo") > 1:
        first = kinds.index("demo")
        kinds = [k if k != "demo" or n == first else "product-view" for n, k in enumerate(kinds)]
    return kinds


_PAGES = {"home-view": ("/",), "blog-view": ("/blog/lead-scoring-101", "/blog/kafka-for-marketers",
                                              "/blog/email-deliverability", "/blog/nurture-programs"),
          "docs-view": ("/docs/quickstart", "/docs/scoring-model", "/docs/api"),
          "product-view": ("/product", "/product/automations", "/product/integrations"),
          "pricing-view": ("/pricing", "/pricing/enterprise")}
_ASSETS = {"blog-download": ("blog-checklist-lead-scoring", "blog-template-nurture-email", "blog-infographic-funnel"),
           "case-study-download": ("case-study-acme", "case-study-globex")}


def _row(index: int, n: int, at: int, email: str, kind: str) -> dict[str, Any]:
    """One interaction row of the history format for a behaviour of the personas' vocabulary."""
    row: dict[str, Any] = {"kind": "interaction", "event_id": f"syn-{index}-{n}", "occurred_at": at, "email": email}
    # the choice within a kind is a function of (index, n) so it needs no draw: the file is as deterministic
    if kind in _PAGES:
        pages = _PAGES[kind]
        row.update(type="page.viewed", url=SITE + pages[(index + n) % len(pages)])
    elif kind in _ASSETS:
        assets = _ASSETS[kind]
        row.update(type="asset.downloaded", properties={"asset": assets[(index + n) % len(assets)]})
    elif kind in ("newsletter-open", "newsletter-click", "product-open", "product-click"):
        campaign, action = kind.split("-")
        week = (at // (7 * DAY)) % 10_000
        row.update(type="email.opened" if action == "open" else "email.clicked",
                   campaign="newsletter" if campaign == "newsletter" else "product-update",
                   message_id=f"{campaign}-{week}")
    elif kind == "demo":
        row.update(type="form.submitted", form_id="demo-request", url=SITE + "/demo")
    elif kind == "newsletter-signup":
        row.update(type="form.submitted", form_id="newsletter-signup", url=SITE + "/blog")
    elif kind == "webinar-register":
        row.update(type="webinar.registered", campaign="webinar-scoring")
    elif kind == "webinar-attend":
        row.update(type="webinar.attended", campaign="webinar-scoring")
    else:
        raise ValueError(f"unknown behaviour {kind!r}")
    return row


def _pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), list(weights.values()))[0]
