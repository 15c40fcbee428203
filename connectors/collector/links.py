"""Signed tracking links for email templates: open pixels and click redirects.

The prospect travels as its ``prospect_id`` (a hash), never as an email address, and
the parameters that matter are signed with ``LEADFLOW_LINK_SECRET`` (HMAC-SHA256), so a
click link cannot be turned into an open redirect or pinned on someone else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode, urlsplit

from streams.core.identity import prospect_id_for

SIGNATURE_PARAM = "s"
CLICK_SIGNED = ("u", "p", "m", "x")
PIXEL_SIGNED = ("p", "m")


class LinkError(ValueError):
    """The link is unsigned, tampered with or expired; the message says which."""


@dataclass(frozen=True)
class VerifiedLink:
    prospect_id: str | None
    message_id: str | None
    url: str | None = None


def signature(secret: str, params: Mapping[str, str], names: tuple[str, ...]) -> str:
    canonical = "\n".join(f"{name}={params.get(name, '')}" for name in names)
    digest = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def pixel_url(base_url: str, secret: str, email: str, message_id: str | None = None,
              campaign: str | None = None) -> str:
    """An email-open pixel for one recipient of one message."""
    params = {"e": "email.opened", "p": prospect_id_for(email)}
    if message_id:
        params["m"] = message_id
    if campaign:
        params["c"] = campaign
    params[SIGNATURE_PARAM] = signature(secret, params, PIXEL_SIGNED)
    return f"{base_url.rstrip('/')}/t/px.gif?{urlencode(params)}"


def click_url(base_url: str, secret: str, email: str, url: str, message_id: str | None = None,
              ttl_days: int = 365, now_s: float | None = None) -> str:
    """A tracked link that records ``email.clicked`` and redirects to ``url`` until it expires."""
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.netloc:
        raise LinkError(f"target must be an absolute http(s) URL, got {url!r}")
    expires = int((time.time() if now_s is None else now_s) + ttl_days * 86400)
    params = {"u": url, "p": prospect_id_for(email), "x": str(expires)}
    if message_id:
        params["m"] = message_id
    params[SIGNATURE_PARAM] = signature(secret, params, CLICK_SIGNED)
    return f"{base_url.rstrip('/')}/t/c?{urlencode(params)}"


def verify_click(secret: str, params: Mapping[str, str], now_s: float) -> VerifiedLink:
    _check_signature(secret, params, CLICK_SIGNED)
    url = params.get("u", "")
    target = urlsplit(url)
    if target.scheme not in ("http", "https") or not target.netloc:
        raise LinkError("target is not an absolute http(s) URL")
    try:
        expires = int(params.get("x", ""))
    except ValueError:
        raise LinkError("expiry is missing") from None
    if now_s > expires:
        raise LinkError("link expired")
    return VerifiedLink(params.get("p") or None, params.get("m") or None, url)


def verify_pixel(secret: str, params: Mapping[str, str]) -> VerifiedLink:
    _check_signature(secret, params, PIXEL_SIGNED)
    return VerifiedLink(params.get("p") or None, params.get("m") or None)


def _check_signature(secret: str, params: Mapping[str, str], names: tuple[str, ...]) -> None:
    given = params.get(SIGNATURE_PARAM)
    if not given:
        raise LinkError("signature missing")
    if not hmac.compare_digest(given.encode(), signature(secret, params, names).encode()):
        raise LinkError("signature does not match")
