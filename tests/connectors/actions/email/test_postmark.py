"""Postmark's Email API, as documented: the request field by field, the streams, and what each answer means."""

import json

import pytest
from aiohttp import web

from connectors.actions.email.message import Sent
from connectors.actions.email.postmark import PostmarkProvider
from leadflow.outbound import AttemptFailed
from tests.connectors.actions.email.vendor import (ACTION_ID, PROSPECT_ID, UNSUBSCRIBE, exchange, sample_email,
                                                   unreachable_outcome)

TOKEN = "00000000-1111-2222-3333-444444444444"
MESSAGE_ID = "b7bc2f4a-e38e-4336-af7d-e6c392c2f817"


def provider(base_url):
    return PostmarkProvider(TOKEN, "broadcast", base_url)


def ok():
    return web.json_response({"To": "ann@example.com", "SubmittedAt": "2026-01-01T00:00:00.0000000Z",
                              "MessageID": MESSAGE_ID, "ErrorCode": 0, "Message": "OK"})


def test_the_request_is_the_documented_email_call():
    request, outcome = exchange(ok, provider)
    assert outcome == Sent("postmark", MESSAGE_ID)
    assert (request.method, request.path) == ("POST", "/email")
    assert request.headers["X-Postmark-Server-Token"] == TOKEN
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"].startswith("application/json")
    assert json.loads(request.body) == {
        "From": "Example Team <hello@example.com>", "To": "ann@example.com", "ReplyTo": "Sales <sales@example.com>",
        "Subject": "Welcome to Example, Ann", "TextBody": sample_email().text, "HtmlBody": sample_email().html,
        "Headers": [{"Name": "List-Unsubscribe", "Value": f"<{UNSUBSCRIBE}>"},
                    {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"},
                    {"Name": "X-Leadflow-Action-Id", "Value": ACTION_ID}],
        "Metadata": {"action_id": ACTION_ID, "prospect_id": PROSPECT_ID, "source": "welcome program", "step": "1"},
        "MessageStream": "broadcast", "TrackOpens": False, "TrackLinks": "None",
    }


def test_transactional_email_goes_to_the_outbound_stream():
    request, _ = exchange(ok, provider, sample_email(transactional=True, html=None, reply_to=None))
    body = json.loads(request.body)
    assert body["MessageStream"] == "outbound" and "HtmlBody" not in body and "ReplyTo" not in body
    assert PostmarkProvider(TOKEN).url == "https://api.postmarkapp.com/email"


@pytest.mark.parametrize("code, message", [
    (406, "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: "
          "ann@example.com. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a "
          "manual suppression."),
    (300, "Invalid email request"),
])
def test_422_is_final_with_postmarks_error_code_and_message(code, message):
    _, outcome = exchange(lambda: web.json_response({"ErrorCode": code, "Message": message}, status=422), provider)
    assert isinstance(outcome, AttemptFailed) and not outcome.retryable and outcome.status == 422
    assert f"ErrorCode {code}: {message[:40]}" in outcome.reason


def test_a_200_carrying_an_error_code_is_a_refusal_too():
    _, outcome = exchange(lambda: web.json_response({"ErrorCode": 406, "Message": "Inactive recipient"}), provider)
    assert isinstance(outcome, AttemptFailed) and not outcome.retryable and "ErrorCode 406" in outcome.reason


def test_429_5xx_and_connection_errors_are_retried():
    _, outcome = exchange(lambda: web.json_response({"ErrorCode": 429, "Message": "Rate limit exceeded"},
                                                    status=429, headers={"Retry-After": "2"}), provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable and outcome.retry_after_s == 2.0
    _, outcome = exchange(lambda: web.json_response({"ErrorCode": 100, "Message": "Maintenance"}, status=503),
                          provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable and "Maintenance" in outcome.reason
    outcome = unreachable_outcome(provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable
