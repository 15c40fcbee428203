"""Where each kind of action goes, in one place: the delivery asks ``Channels.deliver`` and gets what became of it.

- ``send_email``: rendered with tracking and one-click unsubscribe (``email.compose``), through the provider
  (``LEADFLOW_EMAIL_PROVIDER``; the outbox by default).
- ``notify``: a person (``person:<email>``) is emailed; a channel or queue goes to its chat webhook (or the
  default one); the lead's owner, when the owner is an email address, is emailed; otherwise it becomes a
  ``notification`` row in ``crm_tasks`` for the owner or queue (and, with the outbox, a JSON file beside it).
- ``crm_task``: a row in ``crm_tasks`` (and a JSON file in the outbox).
- ``webhook``: a signed POST with the action id as idempotency key (``leadflow.webhooks``); with the outbox
  (the embedded default, where nothing leaves the machine) a JSON file instead.

Every call to the outside is one attempt repeated by ``leadflow.outbound.with_retries``; a final failure is
raised as ``AttemptFailed`` for the delivery to dead-letter that action alone.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, TypeVar

import aiohttp

from connectors.actions import chat, metrics, webhook
from connectors.actions.email.compose import Sending, compose
from connectors.actions.email.message import ACTION_ID_HEADER, Email, Provider
from connectors.actions.email.providers import provider_for
from connectors.actions.email.render import Templates
from connectors.actions.outbox import OUTBOX, write_record
from connectors.actions.crm_tasks import TaskTable
from leadflow.config import Config
from leadflow.outbound import AttemptFailed, with_retries
from schemas.records import Action
from streams.core.automation_index import Engine

T = TypeVar("T")
SENT, WRITTEN = "sent", "written"


@dataclass(frozen=True)
class Delivered:
    status: str  # sent (a provider, chat or webhook took it) or written (the outbox, a CRM table)
    channel: str
    detail: str | None = None  # the provider's message id, the chat route


class Channels:
    def __init__(self, config: Config, engine: Engine | None) -> None:
        assert config.crm_dsn, "CRM tasks need LEADFLOW_CRM_DSN"
        self._config = config
        self._settings = config.actions
        self._outbox = config.data_dir / "outbox"
        self._provider: Provider = provider_for(config)  # a missing key stops the process here, naming it
        self._sending = Sending.from_config(config)
        templates = (config.automations_path.parent / "templates") if config.automations_path else None
        self._templates = Templates(templates) if templates else None
        self._tasks = TaskTable(config.crm_dsn)
        self._session: aiohttp.ClientSession | None = None

    @property
    def offline(self) -> bool:
        """The embedded default: emails and webhooks are written to the outbox, nothing leaves the machine."""
        return self._provider.name == OUTBOX

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._tasks.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._settings.actions_timeout_s))
        return self._session

    async def deliver(self, action: Action, stop: asyncio.Event, counted: Callable[[], None]) -> Delivered:
        handler = _HANDLERS.get(action.type)
        if handler is None:
            raise AttemptFailed(f"no channel delivers {action.type!r} actions", retryable=False)
        return await handler(self, action, stop, counted)

    async def _retried(self, call: Callable[[], Awaitable[T]], what: str, stop: asyncio.Event,
                       counted: Callable[[], None], channel: str) -> T:
        async def attempt() -> T:
            counted()
            metrics.ATTEMPTS.labels(channel).inc()
            return await call()
        return await with_retries(attempt, attempts=self._settings.actions_max_attempts, stop=stop, what=what,
                                  on_retry=lambda _failure: metrics.RETRIES.inc())

    async def _send(self, email: Email, stop: asyncio.Event, counted: Callable[[], None]) -> Delivered:
        provider = self._provider
        sent = await self._retried(lambda: provider.send(self._http(), email, time.time()),
                                   f"{provider.name} for {email.action_id}", stop, counted, provider.name)
        return Delivered(WRITTEN if self.offline else SENT, provider.name, sent.message_id)

    # --- one method per action type (_HANDLERS) --------------------------------------------------------

    async def _email(self, action: Action, stop: asyncio.Event, counted: Callable[[], None]) -> Delivered:
        if self._templates is None:
            raise AttemptFailed("no automation file (LEADFLOW_AUTOMATIONS), so no templates directory to render "
                                f"{action.target!r} from", retryable=False)
        return await self._send(compose(action, self._templates, self._sending), stop, counted)

    async def _notify(self, action: Action, stop: asyncio.Event, counted: Callable[[], None]) -> Delivered:
        target = action.target or "owner"
        kind, _, name = target.partition(":")
        owner = action.payload.get("owner", "")
        if kind == "person" or (kind == "owner" and "@" in owner):
            return await self._send(self._note(action, name if kind == "person" else owner), stop, counted)
        where = chat.route(target, self._settings)
        if where is None:
            return await self._task(action, "notification", stop)
        notification = chat.Notification.of(action)
        await self._retried(lambda: chat.send(self._http(), self._settings, where, notification),
                            f"chat for {action.action_id}", stop, counted, "chat")
        return Delivered(SENT, "chat", where.via)

    async def _crm_task(self, action: Action, stop: asyncio.Event, counted: Callable[[], None]) -> Delivered:
        return await self._task(action, "task", stop)

    async def _webhook(self, action: Action, stop: asyncio.Event, counted: Callable[[], None]) -> Delivered:
        if self.offline:
            write_record(self._outbox, "webhook", action, {"to": action.target or "",
                                                             "summary": action.payload.get("why", "")})
            return Delivered(WRITTEN, OUTBOX)
        secret = self._config.secrets.webhook_secret
        await self._retried(lambda: webhook.send(self._http(), action, secret, requests=metrics.WEBHOOK_REQUESTS,
                                                 seconds=metrics.WEBHOOK_SECONDS),
                            f"webhook for {action.action_id}", stop, counted, "webhook")
        return Delivered(SENT, "webhook")

    async def _task(self, action: Action, kind: str, stop: asyncio.Event) -> Delivered:
        await self._tasks.upsert(action, kind, stop)
        if self.offline:
            summary = action.payload.get("title") or action.payload.get("message", "")
            write_record(self._outbox, "crm_task" if kind == "task" else "notify", action,
                         {"to": _assignee(action), "summary": summary})
        return Delivered(WRITTEN, "crm_tasks")

    def _note(self, action: Action, to: str) -> Email:
        """A notification by email: plain text, no tracking (it goes to a colleague, not a prospect)."""
        payload = action.payload
        message = payload.get("message", "")
        text = "\n".join(line for line in (message, "", f"Who: {payload.get('who', '')}",
                                            f"Why: {payload.get('why', '')}",
                                            f"Action: {action.action_id} ({action.source_kind} {action.source})")
                         if line is not None)
        return Email(action_id=action.action_id, prospect_id=action.prospect_id, to=to,
                     sender=self._sending.sender, reply_to=self._sending.reply_to,
                     subject="[leadflow] " + " ".join(message.split())[:120], text=text, html=None,
                     headers={ACTION_ID_HEADER: action.action_id},
                     metadata={"action_id": action.action_id, "prospect_id": action.prospect_id,
                               "source": action.source}, transactional=True, cause=action.cause_event_id)


def _assignee(action: Action) -> str:
    kind, _, name = (action.target or "owner").partition(":")
    if kind == "owner":
        return action.payload.get("owner") or action.payload.get("queue") or "owner"
    return name


_HANDLERS: dict[str, Callable[[Channels, Action, asyncio.Event, Callable[[], None]], Awaitable[Delivered]]] = {
    "send_email": Channels._email,
    "notify": Channels._notify,
    "crm_task": Channels._crm_task,
    "webhook": Channels._webhook,
}
