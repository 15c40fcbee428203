"""Credentials on HTTP endpoints (the collector's write endpoints, the worker's prospect API), compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from aiohttp import web


def basic_credentials(request: web.Request) -> tuple[str, str] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def bearer_token(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def write_key_ok(request: web.Request, write_key: str) -> bool:
    """The write key as the HTTP Basic username (Segment/RudderStack convention) or as a Bearer token."""
    basic = basic_credentials(request)
    return same(basic[0] if basic else None, write_key) or same(bearer_token(request), write_key)


def basic_auth_ok(request: web.Request, user_password: str) -> bool:
    basic = basic_credentials(request)
    return basic is not None and same(f"{basic[0]}:{basic[1]}", user_password)


def unauthorized(reason: str, realm: str = "leadflow") -> web.Response:
    return web.json_response({"error": reason}, status=401, headers={"WWW-Authenticate": f'Basic realm="{realm}"'})
