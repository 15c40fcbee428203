"""Parsers for setting values: each takes the raw string and returns the typed value or raises ValueError
with a message that completes "invalid configuration: <SETTING>: ..."."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

_PREFIX_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def boolean(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be 0-65535, got {port}")
    return port


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def positive_float(raw: str) -> float:
    value = float(raw)
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value}")
    return value


def choice(options: tuple[str, ...], transform: Callable[[str], str] = str.upper) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = transform(raw.strip())
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}, got {raw!r}")
        return value

    return parse


def prefix(raw: str) -> str:
    if not _PREFIX_RE.match(raw):
        raise ValueError("use letters, digits, '.', '_' or '-' (1-100 characters)")
    return raw


def bootstrap(raw: str) -> str:
    hosts = [h.strip() for h in raw.split(",") if h.strip()]
    if not hosts:
        raise ValueError("is empty")
    for host in hosts:
        name, sep, port = host.rpartition(":")
        if not sep or not name or not port.isdigit():
            raise ValueError(f"expected host:port[,host:port...], got {host!r}")
    return ",".join(hosts)


def dsn(raw: str) -> str:
    if not raw.startswith(("postgresql://", "postgres://")) and "=" not in raw:
        raise ValueError("expected a postgresql:// URI or a libpq key=value string")
    return raw


def url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError(f"expected an http(s):// URL, got {raw!r}")
    return raw.rstrip("/")


def comma_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*(s|sec|second|m|min|minute|h|hour|d|day)?\s*$", re.I)
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate(raw: str) -> str:
    """A rate limit "N/period" (N requests at once, refilled over the period: "20/min", "5/h", "1000/s",
    "10/30s") or "off"; returned in the canonical form "N/<seconds>s" that connectors.collector.rate_limit reads."""
    if raw.strip().lower() in ("off", "0", "none", "unlimited"):
        return "off"
    match = _RATE.match(raw)
    if not match:
        raise ValueError(f"expected N/period such as 20/min, 5/h, 1000/s, 10/30s or off, got {raw!r}")
    count, amount, unit = int(match.group(1)), match.group(2), (match.group(3) or "s")[0].lower()
    period = (float(amount) if amount else 1.0) * _UNIT_S[unit]
    if count < 1 or period <= 0:
        raise ValueError(f"both N and the period must be positive, got {raw!r}")
    return f"{count}/{period:g}s"


def origins(raw: str) -> tuple[str, ...]:
    origins = comma_list(raw)
    for origin in origins:
        if origin != "*" and not re.match(r"^https?://[^/\s]+$", origin):
            raise ValueError(f"expected origins like https://www.example.com (no path), got {origin!r}")
    return origins


def regex(raw: str) -> str:
    try:
        re.compile(raw)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    return raw


def basic_auth(raw: str) -> str:
    user, sep, password = raw.partition(":")
    if not sep or not user or not password:
        raise ValueError("expected user:password")
    return raw


def arns(raw: str) -> tuple[str, ...]:
    arns = comma_list(raw)
    for arn in arns:
        if not arn.startswith("arn:aws") or arn.count(":") < 5:
            raise ValueError(f"not an SNS topic ARN: {arn!r}")
    return arns


def secret(raw: str) -> str:
    if len(raw) < 16:
        raise ValueError("must be at least 16 characters")
    return raw


def existing_file(raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_file():
        raise ValueError(f"no such file: {path}")
    return path
