"""What the collector keeps of a visitor: the client IP after the configured treatment."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from aiohttp import web

from leadflow.config import Config

MAX_USER_AGENT = 512


def client_details(request: web.Request, config: Config) -> tuple[str | None, str | None]:
    """(IP after the configured treatment, user agent): what every tracked input keeps of the visitor."""
    ip = treat_ip(client_ip(request), config.collector.ip_mode, config.secrets.link_secret or "")
    return ip, request.headers.get("User-Agent", "")[:MAX_USER_AGENT] or None


def client_ip(request: web.Request) -> str | None:
    """The peer address; behind a local proxy, the last hop it appended to X-Forwarded-For."""
    peer = request.remote
    forwarded = request.headers.get("X-Forwarded-For")
    if forwarded and peer:
        try:
            if ipaddress.ip_address(peer).is_private or ipaddress.ip_address(peer).is_loopback:
                return forwarded.split(",")[-1].strip() or peer
        except ValueError:
            pass
    return peer


def treat_ip(ip: str | None, mode: str, key: str) -> str | None:
    """truncate: IPv4 /24, IPv6 /48; hash: keyed HMAC so it cannot be reversed by enumeration; drop; keep."""
    if ip is None or mode == "drop":
        return None
    if mode == "truncate" and ip.count(".") == 3 and ip.replace(".", "").isdigit():
        head, _, last = ip.rpartition(".")  # the common IPv4 case without ipaddress' parsing cost
        if all(int(part) < 256 for part in (*head.split("."), last)):
            return head + ".0"
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if mode == "keep":
        return str(address)
    if mode == "hash":
        return "h:" + hmac.new(key.encode(), str(address).encode(), hashlib.sha256).hexdigest()[:24]
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)
