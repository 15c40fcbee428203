"""The checks an email passes again when it is sent, not only when the engine emitted it.

Seconds or hours may pass between the two: an unsubscribe or a hard bounce can arrive meanwhile, the weekly cap
can fill with emails of other programs, the action may have waited (a due time ahead) into quiet hours. The
engine checked all of this against the prospect's state; here the same rules are checked against what the
delivery knows: its suppression list (the providers' webhooks and the unsubscribe endpoint), its own log of
sent emails, the consent the action carries, and the automation file's quiet hours in the prospect's time zone.
"""

from __future__ import annotations

import asyncio

from connectors.actions.log import WEEK_MS, DeliveryLog
from leadflow.config import Config
from schemas.records import Action
from streams.core.automation_actions import quiet_end
from streams.core.automation_index import Engine


class SendTime:
    def __init__(self, config: Config, engine: Engine, log: DeliveryLog) -> None:
        self._consent_required = config.collector.tracking_consent == "required"
        self._engine = engine
        self._log = log

    async def refusal(self, action: Action, marketing: bool, stop: asyncio.Event) -> str | None:
        """Why this email may not go now (unsubscribed, hard_bounce, complaint, no_consent, weekly_cap), or None.
        Transactional email (a confirmation the prospect asked for) skips consent and the cap, not a bounce."""
        if not action.email:
            return "no_consent"
        suppressed = await self._log.suppression(action.prospect_id, stop)
        if suppressed is not None and (marketing or suppressed == "hard_bounce"):
            return suppressed
        if not marketing:
            return None
        if self._consent_required and action.payload.get("consent") != "true":
            return "no_consent"
        cap = self._engine.file.defaults.marketing_emails_per_week
        if cap is not None and await self._log.marketing_sent(action.prospect_id, action.due_at - WEEK_MS,
                                                               stop) >= cap:
            return "weekly_cap"
        return None

    def quiet_until(self, action: Action, now_ms: int) -> int | None:
        """The end of the quiet hours ``now_ms`` falls in, in the prospect's time zone; None: send now."""
        return quiet_end(self._engine, action.payload.get("profile.timezone"), now_ms)
