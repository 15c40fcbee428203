"""SendGrid's v3 Mail Send, as documented: the request field by field, and what each answer means."""

import json

import pytest
from aiohttp import web

from connectors.actions.email.message import Sent
from connectors.actions.email.sendgrid import SendGridProvider
from leadflow.outbound import AttemptFailed
from tests.connectors.actions.email.vendor import (ACTION_ID, NOW, PROSPECT_ID, UNSUBSCRIBE, exchange, sample_email,
                                                   unreachable_outcome)

KEY = "SG.test-key.0123456789"


def provider(base_url):
    return SendGridProvider(KEY, base_url)


def accepted():
    return web.Response(status=202, headers={"X-Message-Id": "W4xw2Qm9RZi6yXqk5aB3dQ"})


def test_the_request_is_the_documented_mail_send_call():
    request, outcome = exchange(accepted, provider)
    assert outcome == Sent("sendgrid", "W4xw2Qm9RZi6yXqk5aB3dQ")
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"].startswith("application/json")
    body = json.loads(request.body)
    assert body == {
        "personalizations": [{"to": [{"email": "ann@example.com"}],
                              "custom_args": {"action_id": ACTION_ID, "prospect_id": PROSPECT_ID}}],
        "from": {"email": "hello@example.com", "name": "Example Team"},
        "reply_to": {"email": "sales@example.com", "name": "Sales"},
        "subject": "Welcome to Example, Ann",
        "content": [{"type": "text/plain", "value": sample_email().text},  # text first: SendGrid requires the order
                    {"type": "text/html", "value": sample_email().html}],
        "headers": {"List-Unsubscribe": f"<{UNSUBSCRIBE}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                    "X-Leadflow-Action-Id": ACTION_ID},
        "custom_args": {"source": "welcome program", "step": "1"},
        "tracking_settings": {"click_tracking": {"enable": False, "enable_text": False},
                              "open_tracking": {"enable": False}, "subscription_tracking": {"enable": False}},
    }


def test_a_text_only_email_without_reply_to_sends_one_part_and_no_reply_to():
    request, _ = exchange(accepted, provider, sample_email(html=None, reply_to=None, sender="hello@example.com"))
    body = json.loads(request.body)
    assert body["content"] == [{"type": "text/plain", "value": sample_email().text}]
    assert "reply_to" not in body and body["from"] == {"email": "hello@example.com"}


def test_the_default_base_url_is_sendgrids_public_api():
    assert SendGridProvider(KEY).url == "https://api.sendgrid.com/v3/mail/send"


def test_a_refusal_is_final_and_quotes_sendgrids_errors():
    def bad_request():
        return web.json_response({"errors": [{"message": "The from address does not match a verified Sender "
                                                         "Identity.", "field": "from", "help": None}]}, status=403)

    _, outcome = exchange(bad_request, provider)
    assert isinstance(outcome, AttemptFailed) and not outcome.retryable and outcome.status == 403
    assert "does not match a verified Sender Identity. (from)" in outcome.reason


@pytest.mark.parametrize("headers, wait", [
    ({"X-RateLimit-Limit": "150", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 7)}, 7.0),
    ({"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 7)}, 3.0),  # Retry-After, when given, wins
])
def test_429_is_retried_after_the_rate_limit_reset(headers, wait):
    def throttled():
        return web.json_response({"errors": [{"field": None, "message": "too many requests"}]}, status=429,
                                 headers=headers)

    _, outcome = exchange(throttled, provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable and outcome.retry_after_s == wait
    assert "too many requests" in outcome.reason


def test_5xx_and_connection_errors_are_worth_another_attempt():
    _, outcome = exchange(lambda: web.Response(status=503, text="upstream unavailable"), provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable and outcome.retry_after_s is None
    outcome = unreachable_outcome(provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable
