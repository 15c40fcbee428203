"""Reading a JSON body of items (one object or a list; the events API also takes ``{"batch": [...]}``) with
its size and count limits, shared by the endpoints that take batches."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web


class Refused(Exception):
    """The body as a whole is unusable: the status, a reason code for the rejection record, the reason."""

    def __init__(self, status: int, code: str, reason: str, body: bytes) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason, self.body = status, code, reason, body


async def json_items(request: web.Request, max_bytes: int, max_items: int,
                     batch_key: str | None = None) -> tuple[bytes, list[Any]]:
    body = await request.read()
    if len(body) > max_bytes:
        raise Refused(413, "too_large", f"body exceeds {max_bytes} bytes", body)
    try:
        doc = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Refused(400, "not_json", f"body is not JSON: {exc}", body) from None
    if batch_key is not None and isinstance(doc, dict) and batch_key in doc:
        doc = doc[batch_key]
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise Refused(400, "empty", "the body is empty: no items", body)
    if len(items) > max_items:
        raise Refused(413, "too_many", f"{len(items)} items; at most {max_items}", body)
    return body, items
