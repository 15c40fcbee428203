"""Request bodies as senders compress them: identity, gzip or deflate, inflated under a cap.

The collector reads compressed bodies itself (aiohttp's own decompression is off in
``server.create_app``) so that a malformed stream is a 400 with the reason, and so that
the inflated size is capped while inflating: a decompression bomb costs at most the cap,
then answers 413.
"""

from __future__ import annotations

import zlib

from aiohttp import web

ENCODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
_CHUNK = 64 * 1024


class Refused(Exception):
    """The body as a whole is unusable: the status, a reason code for the rejection record, the reason."""

    def __init__(self, status: int, code: str, reason: str, body: bytes) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason, self.body = status, code, reason, body


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The body, inflated if `Content-Encoding` says so; Refused(400) for a bad stream or an unknown
    encoding, Refused(413) past ``max_bytes`` (of the inflated body)."""
    raw = await request.read()
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > max_bytes:
            raise Refused(413, "too_large", f"body exceeds {max_bytes} bytes", raw[:max_bytes])
        return raw
    if encoding not in ENCODINGS:
        raise Refused(415, "bad_encoding", f"Content-Encoding {encoding[:40]!r} is not supported; "
                      "send gzip, deflate or identity", raw[:1024])
    return inflate(raw, encoding, max_bytes)


def inflate(raw: bytes, encoding: str, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(ENCODINGS[encoding])
    out = bytearray()
    data = raw
    try:
        while data:
            out += inflater.decompress(data, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise Refused(413, "too_large", f"body exceeds {max_bytes} bytes once inflated", raw[:1024])
            data = inflater.unconsumed_tail
        out += inflater.flush(max_bytes + 1 - len(out)) if len(out) <= max_bytes else b""
    except zlib.error as exc:
        raise Refused(400, "bad_encoding", f"body is not valid {encoding}: {exc}", raw[:1024]) from None
    if len(out) > max_bytes:
        raise Refused(413, "too_large", f"body exceeds {max_bytes} bytes once inflated", raw[:1024])
    if not inflater.eof:
        raise Refused(400, "bad_encoding", f"body is not valid {encoding}: the stream is truncated", raw[:1024])
    return bytes(out)
