"""The demo's journeys: deterministic, one of each kind, and every request valid for the real endpoints."""

from leadflow.config import DEFAULT_MODEL
from leadflow.demo import Outcomes, demo_model
from leadflow.journeys import JOURNEYS, plan
from connectors.collector.segment import interactions_from_item
from streams.core.verdicts import verdict_from
from streams.core.model import load_model


def test_a_plan_is_the_same_for_a_seed_and_holds_every_journey_in_time_order() -> None:
    steps = plan(20, seed=3)
    assert steps == plan(20, seed=3) and steps != plan(20, seed=4)
    assert {s.journey for s in steps} == set(JOURNEYS)
    assert len({s.email for s in steps}) == 20
    assert [s.at_s for s in steps] == sorted(s.at_s for s in steps)
    assert len({s.body.get("messageId") for s in steps if s.kind == "event"}) == sum(s.kind == "event" for s in steps)


def test_every_request_is_one_the_collector_accepts() -> None:
    now = 1_790_000_000_000
    for step in plan(30):
        if step.kind == "event":
            interactions = interactions_from_item(step.body, now)
            assert interactions and all(i.email in (None, step.email) for i in interactions)
        else:
            verdict = verdict_from(step.body, now)
            assert verdict.type in ("accepted", "won", "disqualified")


def test_the_champion_browses_anonymously_then_links_and_sales_answers() -> None:
    champion = [s for s in plan(6) if s.journey == "champion"]
    anonymous = [s for s in champion if "anonymousId" in s.body and "email" not in s.body]
    identify = next(s for s in champion if s.body.get("type") == "identify")
    assert len(anonymous) == 3 and identify.body["anonymousId"] == anonymous[0].body["anonymousId"]
    assert [s.body["verdict"] for s in champion if s.kind == "verdict"] == ["accepted", "won"]


def test_the_demo_model_breaches_within_seconds_around_the_clock(tmp_path) -> None:
    model = load_model(demo_model(DEFAULT_MODEL, tmp_path / "model.yaml"))
    assert model.sla is not None and model.sla.respond_within_ms == 15_000
    assert len(model.sla.escalations) == 2
    assert model.rules == load_model(DEFAULT_MODEL).rules


def test_the_demo_is_done_only_when_every_outcome_showed() -> None:
    assert Outcomes().missing() == ["a lead in crm_leads", "a won deal", "a recycled lead", "an SLA met",
                                    "an SLA breached and escalated", "a nurture email in the outbox",
                                    "a sales notification"]
    assert Outcomes({"won": 1, "nurture": 1}, {"met": 1, "breached": 1}, 1, {"email": 2, "notify": 1}).missing() == []
