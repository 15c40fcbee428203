"""The one codec every producer and consumer uses.

Without a registry, values use Avro single-object encoding (``C3 01`` + the writer
schema's CRC-64-AVRO fingerprint + the body), so a reader knows which schema wrote
a value. With a Schema Registry URL, values use the Confluent wire format (``00`` +
4-byte schema id + body). Readers accept both, and old writer schemas from
``schemas/history`` resolve to the current reader schema.

``peek`` reads one leading field of a value without decoding the rest, as its own writer schema wrote it:
for a consumer that keeps few records of a topic (the action delivery's suppression feed reads only the type
of each interaction, then decodes the few it keeps).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import fastavro
from fastavro.schema import fingerprint, parse_schema, to_parsing_canonical_form

from schemas.fast_reader import Decoder, compile_decoder, compile_field_reader
from schemas.fast_writer import Unsupported, compile_encoder
from schemas.records import RECORD_TYPES, Record
from schemas.registry import SchemaRegistryClient


class RegistrySettings(Protocol):
    """What the codec needs of the configuration (schemas import nothing of ours)."""

    schema_registry_url: str | None


SCHEMA_DIR = Path(__file__).parent
SINGLE_OBJECT_MAGIC = b"\xc3\x01"
CONFLUENT_MAGIC = 0


class DecodeError(ValueError):
    """The bytes are not a value any known schema wrote."""


UNREAD = object()  # what ``peek`` answers when it cannot read the field: decode the whole value instead


@dataclass(frozen=True, eq=False)  # hashed by identity: one per writer schema, a key of the field readers
class _Writer:
    name: str
    schema: Any
    fast: Decoder | None = None  # for the current schema; older writers are resolved by fastavro


def load_schema_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def schema_fingerprint(schema: dict[str, Any]) -> bytes:
    return bytes.fromhex(fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO"))


def history(name: str) -> list[dict[str, Any]]:
    """Released versions of a schema, oldest first."""
    paths = sorted((SCHEMA_DIR / "history" / name).glob("v*.avsc"), key=lambda p: int(p.stem[1:]))
    return [load_schema_json(p) for p in paths]


class Codec:
    def __init__(self, registry: SchemaRegistryClient | None = None) -> None:
        self._registry = registry
        self._raw = {name: load_schema_json(SCHEMA_DIR / f"{name}.avsc") for name in RECORD_TYPES}
        self._current = {name: parse_schema(raw) for name, raw in self._raw.items()}
        self._header = {name: SINGLE_OBJECT_MAGIC + schema_fingerprint(raw) for name, raw in self._raw.items()}
        self._writers: dict[bytes, _Writer] = {}
        for name in RECORD_TYPES:
            for raw in history(name):
                self._writers[schema_fingerprint(raw)] = _Writer(name, parse_schema(raw))
            self._writers[schema_fingerprint(self._raw[name])] = _Writer(name, self._current[name],
                                                                         compile_decoder(self._raw[name]))
        self._encoders = {name: compile_encoder(raw) for name, raw in self._raw.items()}
        self._registry_writers: dict[int, _Writer] = {}
        self._registry_headers: dict[tuple[str, str], bytes] = {}
        self._field_readers: dict[tuple[_Writer, str], Decoder | None] = {}

    @classmethod
    def for_config(cls, config: RegistrySettings) -> "Codec":
        return cls(SchemaRegistryClient(config.schema_registry_url) if config.schema_registry_url else None)

    def encode(self, record: Record, topic: str) -> bytes:
        name = record.SCHEMA
        out = bytearray(self._registry_header(name, topic) if self._registry else self._header[name])
        self._encoders[name](record, out)
        return bytes(out)

    def decode(self, data: bytes) -> Record:
        writer, offset = self._writer_for(data)
        reader = self._current[writer.name]
        try:
            if writer.fast is not None:
                value = writer.fast(data, offset)[0]
            else:
                body = io.BytesIO(memoryview(data)[offset:])
                value = fastavro.schemaless_reader(body, writer.schema, None if writer.schema is reader else reader)
            return RECORD_TYPES[writer.name].from_avro(value)
        except Exception as exc:  # fastavro raises many types for corrupt bodies
            raise DecodeError(f"corrupt {writer.name} value: {exc!r}") from None

    def peek(self, data: bytes, record: str, field: str) -> Any:
        """The value of ``field`` in ``data`` if a ``record`` schema wrote it, reading no further than that field;
        ``UNREAD`` when it cannot tell (another record, a writer schema without the field, framing or bytes
        that do not parse): ``decode`` the value then, which reports what is wrong with it."""
        try:
            writer, offset = self._writer_for(data)
        except DecodeError:
            return UNREAD
        if writer.name != record:
            return UNREAD
        key = (writer, field)
        if key not in self._field_readers:
            try:
                self._field_readers[key] = compile_field_reader(writer.schema, field)
            except (Unsupported, KeyError, TypeError):
                self._field_readers[key] = None
        reader = self._field_readers[key]
        if reader is None:
            return UNREAD
        try:
            return reader(data, offset)[0]
        except (IndexError, ValueError):  # a corrupt body (UnicodeDecodeError is a ValueError)
            return UNREAD

    def _writer_for(self, data: bytes) -> tuple[_Writer, int]:
        if data[:2] == SINGLE_OBJECT_MAGIC and len(data) >= 10:
            writer = self._writers.get(bytes(data[2:10]))
            if writer is None:
                raise DecodeError(f"unknown schema fingerprint {bytes(data[2:10]).hex()}")
            return writer, 10
        if data[:1] == bytes([CONFLUENT_MAGIC]) and len(data) >= 5:
            if self._registry is None:
                raise DecodeError("value uses the Schema Registry wire format but no registry URL is configured")
            schema_id = int.from_bytes(data[1:5], "big")
            if schema_id not in self._registry_writers:
                raw = self._registry.schema(schema_id)
                name = raw["name"].rsplit(".", 1)[-1]
                if name not in self._current:
                    raise DecodeError(f"registry schema {schema_id} is {name!r}, not a leadflow record")
                self._registry_writers[schema_id] = _Writer(name, parse_schema(raw))
            return self._registry_writers[schema_id], 5
        raise DecodeError("value has neither Avro single-object nor Schema Registry framing")

    def _registry_header(self, name: str, topic: str) -> bytes:
        key = (name, topic)
        if key not in self._registry_headers:
            assert self._registry is not None
            schema_id = self._registry.register(f"{topic}-value", self._raw[name])
            self._registry_headers[key] = bytes([CONFLUENT_MAGIC]) + schema_id.to_bytes(4, "big")
        return self._registry_headers[key]
