"""Mailgun's Messages API, as documented: the multipart form field by field, and what each answer means."""

import base64

from aiohttp import web

from connectors.actions.email.mailgun import MailgunProvider
from connectors.actions.email.message import Sent
from leadflow.outbound import AttemptFailed
from tests.connectors.actions.email.vendor import (ACTION_ID, PROSPECT_ID, UNSUBSCRIBE, exchange, sample_email,
                                                   unreachable_outcome)

KEY = "key-0123456789abcdef0123456789abcdef"
DOMAIN = "mg.example.com"


def provider(base_url):
    return MailgunProvider(KEY, DOMAIN, base_url)


def queued():
    return web.json_response({"id": "<20260101000000.1.ABCDEF@mg.example.com>", "message": "Queued. Thank you."})


def test_the_request_is_the_documented_messages_call():
    request, outcome = exchange(queued, provider)
    assert outcome == Sent("mailgun", "20260101000000.1.ABCDEF@mg.example.com")  # as its webhooks name it
    assert (request.method, request.path) == ("POST", f"/v3/{DOMAIN}/messages")
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(f"api:{KEY}".encode()).decode()
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert sorted(request.form.items()) == sorted([
        ("from", "Example Team <hello@example.com>"), ("to", "ann@example.com"),
        ("subject", "Welcome to Example, Ann"), ("text", sample_email().text), ("html", sample_email().html),
        ("h:Reply-To", "Sales <sales@example.com>"), ("h:List-Unsubscribe", f"<{UNSUBSCRIBE}>"),
        ("h:List-Unsubscribe-Post", "List-Unsubscribe=One-Click"), ("h:X-Leadflow-Action-Id", ACTION_ID),
        ("v:action_id", ACTION_ID), ("v:prospect_id", PROSPECT_ID), ("v:source", "welcome program"), ("v:step", "1"),
        ("o:tracking", "no"), ("o:tracking-clicks", "no"), ("o:tracking-opens", "no"),
    ])


def test_a_text_only_email_has_no_html_field_and_the_eu_region_is_a_base_url():
    request, _ = exchange(queued, provider, sample_email(html=None, reply_to=None))
    assert "html" not in request.form and "h:Reply-To" not in request.form
    assert MailgunProvider(KEY, DOMAIN).url == f"https://api.mailgun.net/v3/{DOMAIN}/messages"
    assert MailgunProvider(KEY, DOMAIN, "https://api.eu.mailgun.net/").url == \
        f"https://api.eu.mailgun.net/v3/{DOMAIN}/messages"


def test_refusals_are_final_with_mailguns_message():
    _, outcome = exchange(lambda: web.json_response({"message": "to parameter is not a valid address. please check "
                                                                "documentation"}, status=400), provider)
    assert isinstance(outcome, AttemptFailed) and not outcome.retryable and outcome.status == 400
    assert "to parameter is not a valid address" in outcome.reason
    _, outcome = exchange(lambda: web.Response(status=401, text="Forbidden"), provider)  # a wrong key: plain text
    assert isinstance(outcome, AttemptFailed) and not outcome.retryable and "Forbidden" in outcome.reason


def test_429_waits_for_retry_after_and_5xx_and_connection_errors_are_retried():
    _, outcome = exchange(lambda: web.json_response({"message": "Too many requests"}, status=429,
                                                    headers={"Retry-After": "4"}), provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable and outcome.retry_after_s == 4.0
    _, outcome = exchange(lambda: web.Response(status=500, text="Internal Server Error"), provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable
    outcome = unreachable_outcome(provider)
    assert isinstance(outcome, AttemptFailed) and outcome.retryable
