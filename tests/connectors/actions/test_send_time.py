"""The checks an email passes again at send time: suppression, consent, the weekly cap, quiet hours."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timezone

import pytest

from connectors.actions.send_time import SendTime
from leadflow.config import DEFAULT_AUTOMATIONS, DEFAULT_MODEL, Config
from schemas.records import Action
from streams.core.automation_index import load_engine
from streams.core.model import load_model

ENGINE = load_engine(DEFAULT_AUTOMATIONS, load_model(DEFAULT_MODEL))  # quiet 21:00-08:00, 3 marketing emails a week
NOON_BERLIN = int(datetime(2026, 12, 1, 11, 0, tzinfo=timezone.utc).timestamp() * 1000)
EMAIL = Action(action_id="a1", prospect_id="p_1", type="send_email", source="welcome", source_kind="program",
               file_version="v", due_at=NOON_BERLIN, occurred_at=NOON_BERLIN, cause_event_id="e1",
               target="welcome-1", payload={"transactional": "false", "consent": "true"}, email="ada@example.com")


class Log:
    """The delivery log as SendTime reads it: a suppression list and a count of marketing emails sent."""

    def __init__(self, suppressed: str | None = None, sent: int = 0) -> None:
        self.suppressed, self.sent, self.asked_since = suppressed, sent, None

    async def suppression(self, prospect_id: str, stop: asyncio.Event) -> str | None:
        return self.suppressed

    async def marketing_sent(self, prospect_id: str, since_ms: int, stop: asyncio.Event) -> int:
        self.asked_since = since_ms
        return self.sent


def refusal(log: Log, action: Action = EMAIL, consent: str = "implied") -> str | None:
    checks = SendTime(Config().with_changes(tracking_consent=consent), ENGINE, log)  # type: ignore[arg-type]
    marketing = action.payload.get("transactional") != "true"
    return asyncio.run(checks.refusal(action, marketing, asyncio.Event()))


@pytest.mark.parametrize("reason", ["unsubscribed", "complaint", "hard_bounce"])
def test_a_suppression_that_came_after_the_action_stops_a_marketing_email(reason):
    assert refusal(Log(suppressed=reason)) == reason


def test_a_transactional_email_goes_despite_an_unsubscribe_but_not_to_a_bounced_address():
    confirmation = replace(EMAIL, payload={"transactional": "true"})
    assert refusal(Log(suppressed="unsubscribed"), confirmation) is None
    assert refusal(Log(suppressed="hard_bounce"), confirmation) == "hard_bounce"


def test_consent_is_asked_for_only_when_tracking_consent_is_required():
    without = replace(EMAIL, payload={"transactional": "false", "consent": "false"})
    assert refusal(Log(), without) is None
    assert refusal(Log(), without, consent="required") == "no_consent"
    assert refusal(Log(), EMAIL, consent="required") is None


def test_the_weekly_cap_counts_the_marketing_emails_of_the_week_before_the_action():
    log = Log(sent=3)
    assert refusal(log) == "weekly_cap" and log.asked_since == NOON_BERLIN - 7 * 86_400_000
    assert refusal(Log(sent=2)) is None
    assert refusal(Log(sent=9), replace(EMAIL, payload={"transactional": "true"})) is None


def test_an_email_reaching_quiet_hours_waits_for_their_end_in_the_prospects_time_zone():
    checks = SendTime(Config(), ENGINE, Log())  # type: ignore[arg-type]
    assert checks.quiet_until(EMAIL, NOON_BERLIN) is None
    late = int(datetime(2026, 12, 1, 22, 30, tzinfo=timezone.utc).timestamp() * 1000)  # 23:30 in Berlin
    assert checks.quiet_until(EMAIL, late) == int(datetime(2026, 12, 2, 7, 0, tzinfo=timezone.utc).timestamp() * 1000)
    in_tokyo = replace(EMAIL, payload={**EMAIL.payload, "profile.timezone": "Asia/Tokyo"})  # 07:30 there
    assert checks.quiet_until(in_tokyo, late) == int(datetime(2026, 12, 1, 23, 0, tzinfo=timezone.utc).timestamp()
                                                        * 1000)
    assert checks.quiet_until(in_tokyo, NOON_BERLIN) is None  # 20:00 in Tokyo, before its quiet hours
