"""A minimal Confluent Schema Registry client: register a subject's schema, fetch a schema by id."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Any

CONTENT_TYPE = "application/vnd.schemaregistry.v1+json"


class RegistryError(RuntimeError):
    pass


class SchemaRegistryClient:
    """Caches ids both ways; calls are synchronous and happen once per schema, not per record."""

    def __init__(self, url: str, timeout_s: float = 10.0) -> None:
        self._url = url.rstrip("/")
        self._timeout = timeout_s
        self._ids: dict[tuple[str, str], int] = {}
        self._schemas: dict[int, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def register(self, subject: str, schema: dict[str, Any]) -> int:
        text = json.dumps(schema, sort_keys=True)
        with self._lock:
            if (subject, text) not in self._ids:
                reply = self._call("POST", f"/subjects/{subject}/versions", {"schema": text})
                self._ids[(subject, text)] = int(reply["id"])
                self._schemas[int(reply["id"])] = schema
            return self._ids[(subject, text)]

    def schema(self, schema_id: int) -> dict[str, Any]:
        with self._lock:
            if schema_id not in self._schemas:
                reply = self._call("GET", f"/schemas/ids/{schema_id}", None)
                self._schemas[schema_id] = json.loads(reply["schema"])
            return self._schemas[schema_id]

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self._url + path, data=data, method=method,
                                         headers={"Content-Type": CONTENT_TYPE, "Accept": CONTENT_TYPE})
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RegistryError(f"schema registry {method} {path}: HTTP {exc.code} {exc.read()[:200]!r}") from None
        except (urllib.error.URLError, OSError) as exc:
            raise RegistryError(f"schema registry {self._url} unreachable: {exc}") from None
