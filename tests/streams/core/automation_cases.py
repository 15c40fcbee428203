"""What the automation-engine tests share: a small automation file over the prospect tests' model, inputs, a runner."""

from __future__ import annotations

from schemas.records import Action, CrmFeedback, Interaction
from streams.core.automation_file import parse_automations
from streams.core.automation_index import Engine
from streams.core.automation_state import ActionEffect
from streams.core.automations import step
from streams.core.prospect import ProspectState, Tick
from tests.streams.core.prospects import MODEL, PID

DAY, HOUR = 86_400_000, 3_600_000
T0 = 1_767_600_000_000  # 2026-01-05 08:00 UTC, a Monday
FILE = """\
version: test-1
defaults:
  timezone: UTC
  quiet_hours: "22:00-07:00"
  marketing_emails_per_week: 2
  business_hours: {days: [mon, tue, wed, thu, fri], hours: "09:00-17:00"}
automations:
  - id: to-sales
    trigger: {stage: promoted}
    actions:
      - notify: {queue: sdr}
        message: "{email} promoted (score {score}) by {trigger}"
      - crm_task: "Call {email}"
        due: {business: 4h}
        to: {queue: sdr}
    frequency: every_time
  - id: pricing-twice
    trigger: {interaction: {type: page.viewed, url_contains: /pricing}, count: 2, within: 1d}
    conditions: [known]
    actions: [{notify: {channel: "#signals"}}]
    frequency: {at_most: 1, per: 7d}
  - id: resend
    trigger: {email_outcome: opened_not_clicked, program: nurture, step: first, within: 3d}
    actions: [{send_email: resend}]
  - id: quiet
    trigger: {inactivity: 30d}
    conditions: [{stage: [name, nurture]}]
    actions: [{tag: dormant}]
programs:
  - id: nurture
    entry: {identity: known}
    conditions: [{stage: [name]}]
    steps:
      - {id: first, send_email: one}
      - wait: 3d
      - {branch: {if: clicked, then: exit}}
      - {id: second, send_email: two}
      - wait: 2d
      - {id: third, send_email: three}
    exit: [promoted, unsubscribed, hard_bounce, complaint]
"""
ENGINE = Engine(parse_automations(FILE, "test.yaml", frozenset({"one", "two", "three", "resend"})), MODEL, "test.yaml")


def view(n: int, at: int, url: str = "https://a.io/docs", **extra) -> Interaction:
    return Interaction(event_id=f"e{n}", prospect_key=PID, prospect_id=PID, email="ada@b.io", type="page.viewed",
                       occurred_at=at, received_at=at, source="test", url=url, **extra)


def email_event(n: int, type_: str, at: int, message_id: str, **extra) -> Interaction:
    return Interaction(event_id=f"m{n}", prospect_key=PID, prospect_id=PID, email="ada@b.io", type=type_,
                       occurred_at=at, received_at=at, source="test", message_id=message_id, **extra)


def verdict(n: int, type_: str, at: int) -> CrmFeedback:
    return CrmFeedback(event_id=f"v{n}", prospect_id=PID, type=type_, occurred_at=at, received_at=at)


def feed(state: ProspectState, items, engine: Engine = ENGINE) -> list[Action]:
    """Apply inputs (Interactions, verdicts, Ticks) in order; the actions they emit."""
    out: list[Action] = []
    for item in items:
        outcome = step(state, item, MODEL, engine)
        out += [e.action for e in outcome.effects if isinstance(e, ActionEffect)]
    return out


def new_state() -> ProspectState:
    return ProspectState(PID, model_version=MODEL.version)


__all__ = ["DAY", "HOUR", "T0", "ENGINE", "FILE", "Tick", "view", "email_event", "verdict", "feed", "new_state"]
