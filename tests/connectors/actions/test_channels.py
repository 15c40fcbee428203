"""Channels without the broker or the database: a notify for a chat channel is routed once and posted there."""

from __future__ import annotations

import asyncio

import pytest

from connectors.actions import chat
from connectors.actions.channels import SENT, Channels, Delivered
from leadflow.config import Config
from tests.connectors.actions.test_chat import Hook, notify_action
from tests.local_server import local_server


@pytest.fixture
def counted_routes(monkeypatch) -> list[str]:
    seen: list[str] = []
    real = chat.route

    def route(target, settings):
        seen.append(target)
        return real(target, settings)

    monkeypatch.setattr(chat, "route", route)
    return seen


def test_a_notify_is_routed_once_however_many_attempts_it_takes(tmp_path, counted_routes):
    hook = Hook([(429, "rate_limited", {"Retry-After": "0"}), (200, "ok", {})])  # one retry, at once

    async def main():
        async with local_server(hook.handle, method="POST") as base:
            config = Config().with_changes(crm_dsn="postgresql://unused.invalid/crm", data_dir=tmp_path,
                                           link_secret="l" * 32, chat_webhook_url=f"{base}/default/SECRET",
                                           chat_webhooks=(f"#sales={base}/sales/SECRET",))
            channels = Channels(config, None)
            attempts: list[int] = []
            try:
                return await channels.deliver(notify_action("channel:#sales"), asyncio.Event(),
                                              lambda: attempts.append(1)), len(attempts)
            finally:
                await channels.close()

    delivered, attempts = asyncio.run(main())
    assert delivered == Delivered(SENT, "chat", "#sales")
    assert attempts == 2 and [path for path, _, _ in hook.received] == ["/sales/SECRET"] * 2
    assert counted_routes == ["channel:#sales"]
