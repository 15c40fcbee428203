"""Signed tracking links for email templates: open pixels, click redirects and one-click unsubscribe.

Why shared (a runtime piece in ``leadflow``): the action delivery signs these links into every email and the
collector verifies them when they are followed; one module keeps the two sides on the same format and neither
shell imports the other.

The prospect travels as its ``prospect_id`` (a hash), never as an email address, and
the parameters that matter are signed with ``LEADFLOW_LINK_SECRET`` (HMAC-SHA256), so a
click link cannot be turned into an open redirect or pinned on someone else.

A pixel's signature binds its event type and campaign as well as the prospect and the
message, so an open pixel cannot be replayed as page views of any URL. Pixels signed in the
old format (prospect and message only) are still in sent emails: they stay valid, as
email opens only. Click targets are read as browsers read them (leadflow.redirects)
when signing and again when following: an ambiguous target is never signed nor followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Mapping
from urllib.parse import urlencode

from leadflow.redirects import RedirectError, browser_target
from streams.core.identity import prospect_id_for

SIGNATURE_PARAM = "s"
CLICK_SIGNED = ("u", "p", "m", "x")
PIXEL_SIGNED = ("e", "p", "m", "c")
LEGACY_PIXEL_SIGNED = ("p", "m")  # pixels signed before the type was bound: opens only
OPENED = "email.opened"
UNSUBSCRIBED = "email.unsubscribed"
UNSUBSCRIBE_SIGNED = ("e", "p", "m")  # "e" is not in the link: always UNSUBSCRIBED, so no other link's signature fits


class LinkError(ValueError):
    """The link is unsigned, tampered with or expired; the message says which."""


@dataclass(frozen=True)
class VerifiedLink:
    prospect_id: str | None
    message_id: str | None
    url: str | None = None
    type: str | None = None  # a pixel's signed event type
    campaign: str | None = None  # a pixel's campaign (signed, except in legacy pixels)
    legacy: bool = False


def signature(secret: str, params: Mapping[str, str], names: tuple[str, ...]) -> str:
    canonical = "\n".join(f"{name}={params.get(name, '')}" for name in names)
    digest = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def pixel_url(base_url: str, secret: str, email: str, message_id: str | None = None,
              campaign: str | None = None) -> str:
    """An email-open pixel for one recipient of one message."""
    params = {"e": OPENED, "p": prospect_id_for(email)}
    if message_id:
        params["m"] = message_id
    if campaign:
        params["c"] = campaign
    params[SIGNATURE_PARAM] = signature(secret, params, PIXEL_SIGNED)
    return f"{base_url.rstrip('/')}/t/px.gif?{urlencode(params)}"


def click_url(base_url: str, secret: str, email: str, url: str, message_id: str | None = None,
              ttl_days: int = 365, now_s: float | None = None) -> str:
    """A tracked link that records ``email.clicked`` and redirects to ``url`` until it expires."""
    try:
        url = browser_target(url).url
    except RedirectError as exc:
        raise LinkError(f"target refused: {exc} (got {str(url)[:200]!r})") from None
    expires = int((time.time() if now_s is None else now_s) + ttl_days * 86400)
    params = {"u": url, "p": prospect_id_for(email), "x": str(expires)}
    if message_id:
        params["m"] = message_id
    params[SIGNATURE_PARAM] = signature(secret, params, CLICK_SIGNED)
    return f"{base_url.rstrip('/')}/t/c?{urlencode(params)}"


def unsubscribe_url(base_url: str, secret: str, email: str, message_id: str) -> str:
    """The signed one-click unsubscribe link of one message (RFC 8058): it never expires, as the law asks of
    unsubscribe links, and names the prospect by ``prospect_id`` only."""
    params = {"p": prospect_id_for(email), "m": message_id}
    params[SIGNATURE_PARAM] = signature(secret, {**params, "e": UNSUBSCRIBED}, UNSUBSCRIBE_SIGNED)
    return f"{base_url.rstrip('/')}/t/u?{urlencode(params)}"


def verify_unsubscribe(secret: str, params: Mapping[str, str]) -> VerifiedLink:
    _check_signature(secret, {**params, "e": UNSUBSCRIBED}, UNSUBSCRIBE_SIGNED)
    if not params.get("p") or not params.get("m"):
        raise LinkError("prospect or message missing")
    return VerifiedLink(params["p"], params["m"], type=UNSUBSCRIBED)


def verify_click(secret: str, params: Mapping[str, str], now_s: float) -> VerifiedLink:
    _check_signature(secret, params, CLICK_SIGNED)
    try:
        url = browser_target(params.get("u", "")).url
    except RedirectError as exc:
        raise LinkError(f"target refused: {exc}") from None
    try:
        expires = int(params.get("x", ""))
    except ValueError:
        raise LinkError("expiry is missing") from None
    if now_s > expires:
        raise LinkError("link expired")
    return VerifiedLink(params.get("p") or None, params.get("m") or None, url)


def verify_pixel(secret: str, params: Mapping[str, str]) -> VerifiedLink:
    """The signed pixel; a legacy signature (prospect and message only) is valid for opens only."""
    prospect, message, campaign = params.get("p") or None, params.get("m") or None, params.get("c") or None
    try:
        _check_signature(secret, params, PIXEL_SIGNED)
        return VerifiedLink(prospect, message, type=params.get("e", ""), campaign=campaign)
    except LinkError as exc:
        if "missing" in str(exc):
            raise
        try:
            _check_signature(secret, params, LEGACY_PIXEL_SIGNED)
        except LinkError:
            raise exc from None
    if params.get("e", OPENED) != OPENED:
        raise LinkError("an old-format pixel signature is valid for email opens only")
    return VerifiedLink(prospect, message, type=OPENED, campaign=campaign, legacy=True)


def _check_signature(secret: str, params: Mapping[str, str], names: tuple[str, ...]) -> None:
    given = params.get(SIGNATURE_PARAM)
    if not given:
        raise LinkError("signature missing")
    if not hmac.compare_digest(given.encode(), signature(secret, params, names).encode()):
        raise LinkError("signature does not match")
