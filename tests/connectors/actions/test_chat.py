"""Chat notifications against a local incoming-webhook server: routing, both payloads field by field, answers."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.local_server import local_server
from connectors.actions import chat
from connectors.actions.chat import ChatConfigError, Notification
from leadflow.config import ActionSettings
from leadflow.outbound import AttemptFailed
from schemas.records import Action

NOW = 1_767_000_000.0


def notify_action(target: str = "owner", **payload: str) -> Action:
    return Action(action_id="act-1", prospect_id="p_1", type="notify", source="hot-lead", source_kind="automation",
                  file_version="v1", due_at=1, occurred_at=1, cause_event_id="e1", target=target,
                  payload={"message": "Ann (lead, score 72): stage promoted", "why": "stage promoted",
                           "who": "Ann Lee <ann@example.com>", **payload})


class Hook:
    """A local webhook: remembers what it was sent, answers what it is told to."""

    def __init__(self, answers: list[tuple[int, str, dict[str, str]]] | None = None) -> None:
        self.answers = answers or []
        self.received: list[tuple[str, dict[str, Any], str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((request.path, await request.json(), request.content_type))
        status, text, headers = self.answers.pop(0) if self.answers else (200, "ok", {})
        return web.Response(status=status, text=text, headers=headers)


def run(hook: Hook, scenario) -> Any:
    async def main():
        async with local_server(hook.handle, method="POST") as base, aiohttp.ClientSession() as session:
            return await scenario(session, base)

    return asyncio.run(main())


def settings(base: str = "http://hooks.test", **changes: Any) -> ActionSettings:
    values: dict[str, Any] = dict(chat_webhook_url=f"{base}/default/SECRET",
                                  chat_webhooks=(f"#sales={base}/sales/SECRET", f"inbound-sdr={base}/sdr/SECRET"))
    values.update(changes)
    return ActionSettings(**values)


# --- routing ------------------------------------------------------------------------------------------

def test_channels_and_queues_with_a_webhook_go_there_the_rest_to_the_default():
    config = settings()
    routes = {target: chat.route(target, config) for target in
              ("channel:#sales", "channel:sales", "queue:inbound-sdr", "owner", None, "channel:#other",
               "queue:other", "queue:sales")}
    assert {t: (r.via, r.url) for t, r in routes.items() if r} == {
        "channel:#sales": ("#sales", "http://hooks.test/sales/SECRET"),
        "channel:sales": ("#sales", "http://hooks.test/sales/SECRET"),  # written with or without the '#'
        "queue:inbound-sdr": ("queue inbound-sdr", "http://hooks.test/sdr/SECRET"),
        "owner": ("LEADFLOW_CHAT_WEBHOOK_URL", "http://hooks.test/default/SECRET"),
        None: ("LEADFLOW_CHAT_WEBHOOK_URL", "http://hooks.test/default/SECRET"),
        "channel:#other": ("LEADFLOW_CHAT_WEBHOOK_URL", "http://hooks.test/default/SECRET"),
        "queue:other": ("LEADFLOW_CHAT_WEBHOOK_URL", "http://hooks.test/default/SECRET"),
        "queue:sales": ("LEADFLOW_CHAT_WEBHOOK_URL", "http://hooks.test/default/SECRET"),  # '#sales' is a channel
    }
    assert "SECRET" not in repr(routes["owner"])


def test_a_person_is_never_routed_to_chat_and_nothing_configured_says_so():
    assert chat.route("person:ann@example.com", settings()) is None
    nothing = ActionSettings()
    assert [chat.route(t, nothing) for t in ("owner", "channel:#sales", "queue:x")] == [None, None, None]
    only_sales = ActionSettings(chat_webhooks=("#sales=https://hooks.test/s",))
    assert chat.route("channel:#sales", only_sales).via == "#sales"
    assert chat.route("owner", only_sales) is None  # the caller writes it elsewhere (crm_tasks)


@pytest.mark.parametrize("entries", [("sales",), ("=https://a.io/x",), ("#sales=ftp://a.io/x",), ("#s=not a url",)])
def test_a_malformed_chat_webhooks_entry_is_a_clear_error_without_the_url(entries):
    with pytest.raises(ChatConfigError, match="LEADFLOW_CHAT_WEBHOOKS") as error:
        chat.parse_chat_webhooks(entries)
    assert "a.io/x" not in str(error.value)


# --- payloads -----------------------------------------------------------------------------------------

def test_the_slack_payload_field_by_field():
    body = chat.slack_payload(Notification.of(notify_action()))
    assert set(body) == {"text", "blocks"}
    assert body["text"] == "Ann Lee &lt;ann@example.com&gt;: Ann (lead, score 72): stage promoted (why: stage promoted)"
    message, facts, context = body["blocks"]
    assert message == {"type": "section", "text": {"type": "mrkdwn", "verbatim": True,
                                                    "text": "Ann (lead, score 72): stage promoted"}}
    assert facts == {"type": "section", "fields": [
        {"type": "mrkdwn", "verbatim": True, "text": "*Who*\nAnn Lee &lt;ann@example.com&gt;"},
        {"type": "mrkdwn", "verbatim": True, "text": "*Why*\nstage promoted"}]}
    assert context == {"type": "context", "elements": [
        {"type": "mrkdwn", "verbatim": True, "text": "leadflow · automation hot-lead · action act-1"}]}


def test_a_prospect_cannot_ping_the_channel_or_link_in_slack():
    evil = notify_action(message="<!channel> call <https://evil.io|your bank> & co", who="<@U123> <!here>")
    body = chat.slack_payload(Notification.of(evil))
    texts = [body["text"], body["blocks"][0]["text"]["text"], *(f["text"] for f in body["blocks"][1]["fields"])]
    assert all("<" not in t and ">" not in t for t in texts)
    assert body["blocks"][0]["text"]["text"] == "&lt;!channel&gt; call &lt;https://evil.io|your bank&gt; &amp; co"


def test_long_slack_texts_are_cut_to_slacks_limits_without_half_entities():
    long = notify_action(message="&" * 5000, who="x" * 5000, why="")
    body = chat.slack_payload(Notification.of(long))
    text = body["blocks"][0]["text"]["text"]
    assert len(text) <= 3000 and text.endswith("&amp;…")
    assert all(len(f["text"]) <= 2000 for f in body["blocks"][1]["fields"])
    assert body["blocks"][1]["fields"][1]["text"] == "*Why*\n-"  # never an empty text object


def test_the_teams_payload_field_by_field():
    body = chat.teams_payload(Notification.of(notify_action(who="Ann [click](https://evil.io)")))
    assert body["type"] == "message" and len(body["attachments"]) == 1
    attachment = body["attachments"][0]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert "contentUrl" in attachment and attachment["contentUrl"] is None
    card = attachment["content"]
    assert (card["$schema"], card["type"], card["version"]) == \
        ("http://adaptivecards.io/schemas/adaptive-card.json", "AdaptiveCard", "1.4")
    assert card["body"] == [
        {"type": "TextBlock", "text": "Ann (lead, score 72): stage promoted", "wrap": True, "weight": "Bolder"},
        {"type": "TextBlock", "text": "**Who:** Ann \\[click\\](https://evil.io)", "wrap": True},
        {"type": "TextBlock", "text": "**Why:** stage promoted", "wrap": True},
        {"type": "TextBlock", "text": "leadflow · automation hot-lead · action act-1", "wrap": True,
         "isSubtle": True, "size": "Small"},
    ]


def test_an_unknown_format_is_an_error():
    with pytest.raises(ValueError, match="LEADFLOW_CHAT_FORMAT"):
        chat.payload(Notification.of(notify_action()), "discord")


# --- over HTTP ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("chat_format", ["slack", "teams"])
def test_send_posts_the_chosen_format_to_the_routed_webhook(chat_format):
    hook = Hook([(202 if chat_format == "teams" else 200, "" if chat_format == "teams" else "ok", {})])
    notification = Notification.of(notify_action("channel:#sales"))

    async def scenario(session, base):
        configured = settings(base, chat_format=chat_format)
        where = chat.route(notification.target, configured)
        assert where.via == "#sales"
        return await chat.send(session, configured, where, notification, clock=lambda: NOW)

    assert run(hook, scenario) is None
    [(path, body, content_type)] = hook.received
    assert path == "/sales/SECRET" and content_type == "application/json"
    assert body == chat.payload(notification, chat_format)


@pytest.mark.parametrize("status, text, headers, retryable, retry_after", [
    (400, "invalid_payload", {}, False, None),
    (403, "action_prohibited", {}, False, None),
    (404, "channel_not_found", {}, False, None),
    (404, "no_service", {}, False, None),
    (410, "channel_is_archived", {}, False, None),
    (429, "rate_limited", {"Retry-After": "7"}, True, 7.0),
    (500, "rollup_error", {}, True, None),
    (503, "", {}, True, None),
    (200, "Microsoft Teams endpoint returned HTTP error 429", {}, True, None),  # a legacy connector's throttling
])
def test_answers_map_to_final_or_retryable_failures(status, text, headers, retryable, retry_after):
    hook = Hook([(status, text, headers)])

    async def scenario(session, base):
        with pytest.raises(AttemptFailed) as failure:
            configured = settings(base)
            await chat.send(session, configured, chat.route("owner", configured), Notification.of(notify_action()),
                            clock=lambda: NOW)
        return failure.value

    failure = run(hook, scenario)
    assert (failure.retryable, failure.retry_after_s) == (retryable, retry_after)
    assert "SECRET" not in failure.reason and "127.0.0.1" in failure.reason
    if status != 200:
        assert failure.status == status and text in failure.reason


def test_send_posts_where_it_was_routed_without_routing_again():
    """The route is the caller's (one routing per notification): ``send`` posts there even when the settings
    would route the target elsewhere."""
    hook = Hook()

    async def scenario(session, base):
        where = chat.ChatRoute("#sales", f"{base}/sales/SECRET")
        await chat.send(session, ActionSettings(), where, Notification.of(notify_action("owner")), clock=lambda: NOW)

    run(hook, scenario)
    assert [path for path, _, _ in hook.received] == ["/sales/SECRET"]


def test_an_unreachable_webhook_is_retryable_and_a_2xx_is_done():
    async def scenario(session, base):
        with pytest.raises(AttemptFailed) as failure:
            await chat.post(session, "http://127.0.0.1:9/hook/SECRET", {"text": "x"}, lambda: NOW, 2.0)
        done = await chat.post(session, f"{base}/hook/SECRET", {"text": "x"}, lambda: NOW, 2.0)
        return failure.value, done

    failure, done = run(Hook(), scenario)
    assert failure.retryable and "SECRET" not in failure.reason and done is None
