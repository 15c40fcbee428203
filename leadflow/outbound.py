"""Calls to services outside leadflow (a CRM webhook, an email provider, a chat webhook): one attempt's
answer read one way, and one retry loop around attempts.

Why here: the CRM sink's webhook target and every action delivery channel talk HTTP to someone else's
service, and the rules for what is worth retrying are the same for all of them. 2xx is done; 5xx, 408 and
429 (after its ``Retry-After``), timeouts and connection errors are worth another attempt; any other 4xx is
the service refusing the request, which no retry changes. The waits between attempts are the stage's one
backoff (``leadflow.stage.backoff_delays``).
"""

from __future__ import annotations

import asyncio
import logging
from email.utils import parsedate_to_datetime
from typing import Awaitable, Callable, TypeVar

import aiohttp

from leadflow.stage import backoff_delays, pause

log = logging.getLogger("leadflow.outbound")
T = TypeVar("T")
RETRY_AFTER_MAX_S = 120.0  # longer holds the partition too long: the attempt counts and backoff resumes
RETRYABLE_STATUSES = frozenset({408, 429})
DETAIL_CHARS = 300  # of a refusing answer's body, kept in the error (and so in the dead letter)


class AttemptFailed(Exception):
    """One attempt failed. ``retryable``: another attempt may succeed; ``retry_after_s``: the service said when."""

    def __init__(self, reason: str, *, retryable: bool, retry_after_s: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.retryable, self.retry_after_s, self.status = reason, retryable, retry_after_s, status


class Stopped(Exception):
    """The process is stopping before the call ended: nothing was acknowledged, the input is read again."""


def retry_after_s(value: str | None, now: float) -> float | None:
    """Retry-After as delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), RETRY_AFTER_MAX_S)
    try:
        return min(max(0.0, parsedate_to_datetime(value).timestamp() - now), RETRY_AFTER_MAX_S)
    except (TypeError, ValueError):
        return None


def refused(status: int, detail: str, url: str, retry_after: str | None, now: float) -> AttemptFailed:
    """The failure a non-2xx answer is: retryable for 5xx, 408 and 429, final for any other 4xx."""
    error = f"HTTP {status} from {url}: {detail[:DETAIL_CHARS]}".strip()
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    return AttemptFailed(error, retryable=retryable, retry_after_s=retry_after_s(retry_after, now) if retryable
                         else None, status=status)


async def check(response: aiohttp.ClientResponse, url: str, now: float) -> None:
    """Raise the attempt's failure unless the answer is 2xx."""
    if 200 <= response.status < 300:
        return
    raise refused(response.status, await response.text(errors="replace"), url,
                  response.headers.get("Retry-After"), now)


def unreachable(exc: BaseException, url: str) -> AttemptFailed:
    """A timeout or a connection error: the request may not have arrived; worth another attempt."""
    return AttemptFailed(f"{type(exc).__name__} calling {url}: {exc}".strip(), retryable=True)


TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError)


async def with_retries(attempt: Callable[[], Awaitable[T]], *, attempts: int, stop: asyncio.Event, what: str,
                       on_retry: Callable[[AttemptFailed], None] | None = None) -> T:
    """``attempt()`` until it succeeds, fails for good, or ``attempts`` are used up; then its last failure is
    raised. Raises ``Stopped`` when ``stop`` is set during a wait."""
    delays = backoff_delays()
    for number in range(1, attempts + 1):
        try:
            return await attempt()
        except AttemptFailed as failure:
            if not failure.retryable or number == attempts:
                raise
            delay = failure.retry_after_s if failure.retry_after_s is not None else next(delays)
            if on_retry is not None:
                on_retry(failure)
            log.warning("attempt %d of %d at %s failed (%s); retrying in %.1fs", number, attempts, what,
                        failure.reason[:200], delay)
            if await pause(stop, delay):
                raise Stopped(what) from None
    raise AssertionError("unreachable: the last attempt returns or raises")
