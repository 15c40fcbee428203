"""Webhook actions against a local receiver that verifies them as the README tells receivers to."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from connectors.actions import webhook
from leadflow.outbound import AttemptFailed
from leadflow.webhooks import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify
from schemas.records import Action
from tests.local_server import local_server

SECRET = "whsec_test_0123456789abcdef"
NOW = 1_767_000_000.0


def hook_action(url: str) -> Action:
    return Action(action_id="act-42", prospect_id="p_1", type="webhook", source="hot-lead", source_kind="automation",
                  file_version="v7", due_at=1_767_000_000_000, occurred_at=1_767_000_000_000, cause_event_id="e9",
                  target=url, payload={"why": "stage promoted", "stage": "lead", "score": "72.00"},
                  email="ann@example.com")


class Receiver:
    def __init__(self, answers: list[tuple[int, str, dict[str, str]]] | None = None) -> None:
        self.answers = answers or []
        self.seen: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append({"verified": verify(SECRET, request.headers.get(SIGNATURE_HEADER, ""), body, NOW),
                          "key": request.headers.get(IDEMPOTENCY_HEADER),
                          "action": request.headers.get(webhook.ACTION_HEADER),
                          "type": request.content_type, "document": json.loads(body)})
        status, text, headers = self.answers.pop(0) if self.answers else (204, "", {})
        return web.Response(status=status, text=text or None, headers=headers)


def run(receiver: Receiver, scenario) -> Any:
    async def main():
        async with local_server(receiver.handle, "/hook", "POST") as base, \
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            return await scenario(session, f"{base}/hook")

    return asyncio.run(main())


def test_the_action_arrives_signed_with_its_idempotency_key_and_type():
    receiver = Receiver()

    async def scenario(session, url):
        action = hook_action(url)
        await webhook.send(session, action, SECRET, clock=lambda: NOW)
        await webhook.send(session, action, SECRET, clock=lambda: NOW)  # a redelivery
        return action

    action = run(receiver, scenario)
    first, again = receiver.seen
    assert first["verified"] and first["key"] == "act-42" and first["action"] == "webhook"
    assert first["type"] == "application/json"
    assert again["key"] == first["key"] and again["document"] == first["document"]  # the receiver keeps one
    assert first["document"] == {
        "schema": "Action", "action_id": "act-42", "prospect_id": "p_1", "type": "webhook", "source": "hot-lead",
        "source_kind": "automation", "file_version": "v7", "due_at": 1_767_000_000_000,
        "occurred_at": 1_767_000_000_000, "cause_event_id": "e9", "step": None, "target": action.target,
        "payload": {"why": "stage promoted", "stage": "lead", "score": "72.00"}, "email": "ann@example.com"}


def test_a_signature_under_another_secret_or_stale_does_not_verify():
    body = webhook.body_of(hook_action("https://crm.example/hook"))
    from leadflow.webhooks import signature

    assert verify(SECRET, signature(SECRET, body, int(NOW)), body, NOW)
    assert not verify(SECRET, signature("another-secret-0123456", body, int(NOW)), body, NOW)
    assert not verify(SECRET, signature(SECRET, body, int(NOW) - 3600), body, NOW)
    assert not verify(SECRET, signature(SECRET, body, int(NOW)), body + b" ", NOW)


@pytest.mark.parametrize("status, headers, retryable, retry_after", [
    (400, {}, False, None),
    (401, {}, False, None),
    (404, {}, False, None),
    (422, {}, False, None),
    (408, {}, True, None),
    (429, {"Retry-After": "30"}, True, 30.0),
    (500, {}, True, None),
    (502, {}, True, None),
])
def test_4xx_is_final_and_429_408_5xx_are_retryable(status, headers, retryable, retry_after):
    receiver = Receiver([(status, "nope", headers)])

    async def scenario(session, url):
        with pytest.raises(AttemptFailed) as failure:
            await webhook.send(session, hook_action(url), SECRET, clock=lambda: NOW)
        return failure.value

    failure = run(receiver, scenario)
    assert (failure.status, failure.retryable, failure.retry_after_s) == (status, retryable, retry_after)
    assert f"HTTP {status}" in failure.reason and "nope" in failure.reason


def test_an_unreachable_receiver_is_retryable():
    async def main():
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            with pytest.raises(AttemptFailed) as failure:
                await webhook.send(session, hook_action("http://127.0.0.1:9/hook"), SECRET, clock=lambda: NOW)
            return failure.value

    assert asyncio.run(main()).retryable


@pytest.mark.parametrize("secret, url, reason", [
    (None, "https://crm.example/hook", "LEADFLOW_WEBHOOK_SECRET"),
    ("", "https://crm.example/hook", "LEADFLOW_WEBHOOK_SECRET"),
    (SECRET, "ftp://crm.example/hook", "not an http(s) URL"),
    (SECRET, "", "not an http(s) URL"),
])
def test_no_secret_or_no_usable_url_is_final_and_sends_nothing(secret, url, reason):
    async def main():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(AttemptFailed) as failure:
                await webhook.send(session, hook_action(url), secret, clock=lambda: NOW)
            return failure.value

    failure = asyncio.run(main())
    assert not failure.retryable and reason in failure.reason
