"""Token buckets per key (a client IP, an email address, a write key + client): abuse limits.

Why: the collector's form endpoint is public, so without limits anyone can push any address
to sales as fast as they can post. A bucket holds ``burst`` tokens and refills at
``burst / period_s`` tokens a second; a request takes one token or is refused with the
seconds until one is back (the ``Retry-After`` of the 429).

Pure: the caller passes the time in. Memory is bounded: a bucket that has been idle long
enough to be full again is the same as no bucket, so it is dropped (the least recently used
buckets are checked on every call); past ``max_keys`` the least recently used bucket is
dropped even if not full, which forgives that key rather than letting a flood of distinct
keys grow the table without end.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict
from dataclasses import dataclass

from leadflow import parsers

EVICT_PER_CALL = 4
DEFAULT_MAX_KEYS = 100_000


@dataclass(frozen=True)
class Rate:
    burst: int  # tokens a full bucket holds: requests allowed at once
    period_s: float  # seconds to refill a whole bucket

    @property
    def per_second(self) -> float:
        return self.burst / self.period_s

    def __str__(self) -> str:
        return f"{self.burst}/{self.period_s:g}s"


class RateLimiter:
    def __init__(self, rate: Rate | None, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        self.rate = rate
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at_s)

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now_s: float) -> float:
        """Take a token for ``key``: 0.0 when allowed, else the seconds until the next token."""
        rate = self.rate
        if rate is None:
            return 0.0
        self._evict(now_s)
        tokens, at_s = self._buckets.pop(key, (float(rate.burst), now_s))
        tokens = min(float(rate.burst), tokens + max(0.0, now_s - at_s) * rate.per_second)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now_s)
            return 0.0
        self._buckets[key] = (tokens, now_s)
        return (1.0 - tokens) / rate.per_second

    def _evict(self, now_s: float) -> None:
        assert self.rate is not None
        buckets, period = self._buckets, self.rate.period_s
        for _ in range(EVICT_PER_CALL):
            if not buckets:
                return
            key, (_, at_s) = next(iter(buckets.items()))
            if now_s - at_s < period and len(buckets) < self.max_keys:
                return
            del buckets[key]


def client_key(ip: str | None) -> str:
    """The bucket key of a client address: IPv6 clients own a whole /64, so that is one client."""
    if not ip:
        return "-"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)


def retry_after(seconds: float) -> str:
    """The Retry-After header value: whole seconds, at least 1."""
    return str(max(1, int(seconds + 0.999)))


def rate_of(setting: str) -> Rate | None:
    """The Rate of a rate-limit setting ("20/min", "5/h", "off"; see leadflow.parsers.rate)."""
    canonical = parsers.rate(setting)
    if canonical == "off":
        return None
    count, _, period = canonical.partition("/")
    return Rate(int(count), float(period.removesuffix("s")))
