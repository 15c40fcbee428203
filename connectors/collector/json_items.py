"""Reading a JSON body of items (one object or a list; the events API also takes ``{"batch": [...]}``) with
its size and count limits, shared by the endpoints that take batches."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from connectors.collector.bodies import Refused, read_body
from connectors.collector.json_reader import NotJson, read_json

__all__ = ["Refused", "json_body", "json_items"]


async def json_body(request: web.Request, max_bytes: int) -> tuple[bytes, Any]:
    """(the inflated body, its JSON document)."""
    body = await read_body(request, max_bytes)
    try:
        return body, read_json(body)
    except NotJson as exc:
        raise Refused(400, "not_json", str(exc), body) from None


def items_of(body: bytes, doc: Any, max_items: int, batch_key: str | None = None) -> list[Any]:
    if batch_key is not None and isinstance(doc, dict) and batch_key in doc:
        doc = doc[batch_key]
    items = doc if isinstance(doc, list) else [doc]
    if not items:
        raise Refused(400, "empty", "the body is empty: no items", body)
    if len(items) > max_items:
        raise Refused(413, "too_many", f"{len(items)} items; at most {max_items}", body)
    return items


async def json_items(request: web.Request, max_bytes: int, max_items: int,
                     batch_key: str | None = None) -> tuple[bytes, list[Any]]:
    body, doc = await json_body(request, max_bytes)
    return body, items_of(body, doc, max_items, batch_key)
