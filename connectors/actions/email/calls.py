"""One HTTP call to an email provider's API, answered the one way every outbound call is (``leadflow.outbound``).

Why a helper: the four adapters differ in what they send and in how their refusals read, not in what an answer
means. 2xx comes back as an ``Answer``; anything else is raised as ``AttemptFailed``, retryable for 5xx, 408 and
429 (waiting for ``Retry-After``, or for the vendor's own rate-limit reset header when that is all it sends), final
for any other 4xx, with the vendor's own words for the cause; a timeout or a connection error is retryable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import aiohttp

from leadflow.outbound import RETRY_AFTER_MAX_S, TRANSPORT_ERRORS, AttemptFailed, refused, retry_after_s, unreachable


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> dict[str, Any]:
        """The body as a JSON object; {} when it is not one (a proxy's HTML error page, an empty body)."""
        try:
            document = json.loads(self.body)
        except ValueError:
            return {}
        return document if isinstance(document, dict) else {}


def reset_wait_s(value: str | None, now: float) -> float | None:
    """A rate-limit reset given as unix seconds (SendGrid's ``X-RateLimit-Reset``) as a wait from ``now``."""
    try:
        return min(max(0.0, float(value or "") - now), RETRY_AFTER_MAX_S)
    except ValueError:
        return None


async def call(session: aiohttp.ClientSession, method: str, url: str, now: float, *,
               detail: Callable[[Answer], str], reset_header: str | None = None,
               also_retryable: Callable[[Answer], bool] | None = None, **request: Any) -> Answer:
    """One request; the 2xx ``Answer`` or ``AttemptFailed``. ``detail`` words a refusal from the vendor's body;
    ``reset_header`` names a unix-time rate-limit reset to wait for when there is no ``Retry-After``;
    ``also_retryable`` marks refusals outside 5xx/408/429 that are worth another attempt (SES throttling)."""
    try:
        async with session.request(method, url, **request) as response:
            answer = Answer(response.status, response.headers.copy(), await response.read())
    except TRANSPORT_ERRORS as exc:
        raise unreachable(exc, url) from None
    if 200 <= answer.status < 300:
        return answer
    failure = refused(answer.status, detail(answer) or answer.text(), url, answer.headers.get("Retry-After"), now)
    if not failure.retryable and also_retryable is not None and also_retryable(answer):
        failure = AttemptFailed(failure.reason, retryable=True, status=answer.status,
                                retry_after_s=retry_after_s(answer.headers.get("Retry-After"), now))
    if failure.retryable and failure.retry_after_s is None and reset_header:
        failure.retry_after_s = reset_wait_s(answer.headers.get(reset_header), now)
    raise failure
