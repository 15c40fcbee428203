"""Avro binary encoders compiled once per schema, for the shapes leadflow's schemas use.

fastavro resolves every ["null", X] union by trying branches, which makes a 20-field
Interaction cost ~25 us to encode; the collector encodes one per pixel hit. These
closures know each field's type up front and read attributes straight off the record
dataclass. A test checks they produce exactly fastavro's bytes for generated data.
"""

from __future__ import annotations

import struct
from operator import attrgetter
from typing import Any, Callable

Encoder = Callable[[Any, bytearray], None]
_DOUBLE = struct.Struct("<d")


def write_long(value: int, out: bytearray) -> None:
    value = (value << 1) ^ (value >> 63)
    while value & ~0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def write_string(value: str, out: bytearray) -> None:
    data = value.encode()
    write_long(len(data), out)
    out += data


def write_bytes(value: bytes, out: bytearray) -> None:
    write_long(len(value), out)
    out += value


def write_boolean(value: bool, out: bytearray) -> None:
    out.append(1 if value else 0)


def write_double(value: float, out: bytearray) -> None:
    out += _DOUBLE.pack(value)


_PRIMITIVES: dict[str, Encoder] = {"string": write_string, "long": write_long, "int": write_long,
                                   "boolean": write_boolean, "double": write_double, "bytes": write_bytes}


class Unsupported(ValueError):
    pass


def compile_encoder(schema: Any, from_attributes: bool = True) -> Encoder:
    """An encoder for ``schema`` (raw JSON form); records are read by attribute, or by key when False."""
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        raise Unsupported(schema)
    if isinstance(schema, list):
        return _nullable(schema, from_attributes)
    kind = schema["type"]
    if kind == "record":
        return _record(schema, from_attributes)
    if kind == "map":
        return _map(compile_encoder(schema["values"], from_attributes))
    if kind == "array":
        return _array(compile_encoder(schema["items"], from_attributes))
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    raise Unsupported(str(kind))


def _record(schema: dict[str, Any], from_attributes: bool) -> Encoder:
    fields = [(f["name"], compile_encoder(f["type"], from_attributes)) for f in schema["fields"]]
    names = [name for name, _ in fields]
    getter = attrgetter(*names) if from_attributes else (lambda d: tuple(d[n] for n in names))
    encoders = [encoder for _, encoder in fields]
    if len(names) == 1:
        single = getter
        getter = lambda record: (single(record),)  # noqa: E731  attrgetter returns a bare value for one name

    def encode(record: Any, out: bytearray) -> None:
        for encoder, value in zip(encoders, getter(record)):
            encoder(value, out)

    return encode


def _nullable(branches: list[Any], from_attributes: bool) -> Encoder:
    if len(branches) != 2 or branches[0] != "null":
        raise Unsupported(f"union {branches}")
    inner = compile_encoder(branches[1], from_attributes)

    def encode(value: Any, out: bytearray) -> None:
        if value is None:
            out.append(0)
        else:
            out.append(2)
            inner(value, out)

    return encode


def _map(values: Encoder) -> Encoder:
    def encode(mapping: Any, out: bytearray) -> None:
        if mapping:
            write_long(len(mapping), out)
            for key, value in mapping.items():
                write_string(key, out)
                values(value, out)
        out.append(0)

    return encode


def _array(items: Encoder) -> Encoder:
    def encode(sequence: Any, out: bytearray) -> None:
        if sequence:
            write_long(len(sequence), out)
            for item in sequence:
                items(item, out)
        out.append(0)

    return encode
