"""Avro binary decoders compiled once per schema, the reading twin of ``schemas.fast_writer``.

fastavro's ``schemaless_reader`` spent ~17 us per Interaction, a quarter of the worker's
time per input. These closures know each field's type up front and return the same
dicts fastavro does. They read values written with the current schema only; older writer
schemas go through fastavro, which resolves them. A test checks both agree on generated data.

``compile_field_reader`` reads one field of a record and nothing after it, for a consumer that keeps few
records of a topic and can tell which from a leading field (the action delivery keeps the suppressing
interactions by their ``type``): the fields before it are skipped, not decoded.
"""

from __future__ import annotations

import struct
from typing import Any, Callable

from schemas.fast_writer import Unsupported

Decoder = Callable[[bytes, int], tuple[Any, int]]
_DOUBLE = struct.Struct("<d")


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    pos += 1
    value, shift = byte & 0x7F, 7
    while byte & 0x80:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
    return (value >> 1) ^ -(value & 1), pos


def read_string(data: bytes, pos: int) -> tuple[str, int]:
    size, pos = read_long(data, pos)
    end = pos + size
    if size < 0 or end > len(data):
        _short(size, pos)
    return data[pos:end].decode(), end


def read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = read_long(data, pos)
    end = pos + size
    if size < 0 or end > len(data):
        raise ValueError(f"{size} bytes at {pos} run past the end")
    return bytes(data[pos:end]), end


def read_boolean(data: bytes, pos: int) -> tuple[bool, int]:
    return data[pos] != 0, pos + 1


def read_double(data: bytes, pos: int) -> tuple[float, int]:
    return _DOUBLE.unpack_from(data, pos)[0], pos + 8


_PRIMITIVES: dict[str, Decoder] = {"string": read_string, "long": read_long, "int": read_long,
                                   "boolean": read_boolean, "double": read_double, "bytes": read_bytes}


def compile_decoder(schema: Any) -> Decoder:
    """A decoder for ``schema`` (raw JSON form): ``decode(data, pos) -> (value, next pos)``."""
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        raise Unsupported(schema)
    if isinstance(schema, list):
        return _nullable(schema)
    kind = schema["type"]
    if kind == "record":
        return _record(schema)
    if kind == "map":
        return _blocks(compile_decoder(schema["values"]), keyed=True)
    if kind == "array":
        return _blocks(compile_decoder(schema["items"]), keyed=False)
    if isinstance(kind, str) and kind in _PRIMITIVES:
        return _PRIMITIVES[kind]
    raise Unsupported(str(kind))


def compile_field_reader(schema: Any, field: str) -> Decoder | None:
    """``read(data, pos) -> (value of field, pos after it)`` for a ``schema`` record value starting at ``pos``,
    or None when the record has no such field. Strings, bytes, numbers, booleans and their nullable forms
    before the field are skipped over (no text decoded); anything else before it is decoded and dropped."""
    names = [f["name"] for f in schema["fields"]]
    if field not in names:
        return None
    at = names.index(field)
    skips = [_skipper(f["type"]) for f in schema["fields"][:at]]
    read = compile_decoder(schema["fields"][at]["type"])

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        for skip in skips:
            pos = skip(data, pos)
        return read(data, pos)

    return decode


Skipper = Callable[[bytes, int], int]


def _skip_sized(data: bytes, pos: int) -> int:
    size, pos = read_long(data, pos)
    if size < 0 or pos + size > len(data):
        raise ValueError(f"{size} bytes at {pos} run past the end")
    return pos + size


def _skipper(schema: Any) -> Skipper:
    kind = schema if isinstance(schema, str) else None if isinstance(schema, list) else schema.get("type")
    if kind in ("string", "bytes"):
        return _skip_sized
    if kind in ("long", "int"):
        return lambda data, pos: read_long(data, pos)[1]
    if kind == "boolean":
        return lambda data, pos: pos + 1
    if kind == "double":
        return lambda data, pos: pos + 8
    if isinstance(schema, list) and len(schema) == 2 and schema[0] == "null":
        inner = _skipper(schema[1])

        def skip(data: bytes, pos: int) -> int:
            branch = data[pos]
            if branch == 0:
                return pos + 1
            if branch != 2:
                raise ValueError(f"union branch {branch} at {pos}")
            return inner(data, pos + 1)

        return skip
    decoder = compile_decoder(schema)
    return lambda data, pos: decoder(data, pos)[1]


def _record(schema: dict[str, Any]) -> Decoder:
    """A record's decoder as one generated function: each string, long, boolean and nullable one read inline,
    one after the other, into a dict literal. A loop over per-field closures cost a call or two per field, and
    an Interaction has 21 fields: 9.5 us per input, against ~4 us generated."""
    names: dict[str, Any] = {"read_long": read_long, "_fail": _fail, "_short": _short}
    lines = ["def decode(data, pos):"]
    for number, spec in enumerate(schema["fields"]):
        target, kind = f"v{number}", spec["type"]
        if isinstance(kind, list) and len(kind) == 2 and kind[0] == "null" and kind[1] in _INLINE:
            lines += ["    branch = data[pos]", "    pos += 1", "    if branch == 0:", f"        {target} = None",
                      "    else:", "        if branch != 2:", "            _fail(branch, pos - 1)"]
            lines += ["    " + line for line in _INLINE[kind[1]](target)]
        elif isinstance(kind, str) and kind in _INLINE:
            lines += _INLINE[kind](target)
        else:
            names[f"d{number}"] = compile_decoder(kind)
            lines.append(f"    {target}, pos = d{number}(data, pos)")
    lines.append("    return {" + ", ".join(f"{spec['name']!r}: v{number}"
                                          for number, spec in enumerate(schema["fields"])) + "}, pos")
    exec("\n".join(lines), names)  # noqa: S102 - the source is built from the schema's field list above
    return names["decode"]


def _fail(branch: int, pos: int) -> None:
    raise ValueError(f"union branch {branch} at {pos}")


def _short(size: int, pos: int) -> None:
    raise ValueError(f"string of {size} bytes at {pos} runs past the end")


def _inline_long(target: str) -> list[str]:
    return ["    byte = data[pos]", "    if byte < 0x80:", f"        {target} = (byte >> 1) ^ -(byte & 1)",
            "        pos += 1", "    else:", f"        {target}, pos = read_long(data, pos)"]


_INLINE: dict[str, Callable[[str], list[str]]] = {
    "string": lambda target: [*_inline_long("size"), "    end = pos + size",
                              "    if size < 0 or end > len(data):", "        _short(size, pos)",
                              f"    {target} = data[pos:end].decode()", "    pos = end"],
    "long": _inline_long,
    "int": _inline_long,
    "boolean": lambda target: [f"    {target} = data[pos] != 0", "    pos += 1"],
}


def _nullable(branches: list[Any]) -> Decoder:
    if len(branches) != 2 or branches[0] != "null":
        raise Unsupported(f"union {branches}")
    inner = compile_decoder(branches[1])

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        branch = data[pos]
        if branch == 0:
            return None, pos + 1
        if branch != 2:
            raise ValueError(f"union branch {branch} at {pos}")
        return inner(data, pos + 1)

    return decode


def _blocks(items: Decoder, keyed: bool) -> Decoder:
    """Maps and arrays: blocks of items, a negative count followed by the block's byte size, a zero count last."""

    def decode(data: bytes, pos: int) -> tuple[Any, int]:
        out: Any = {} if keyed else []
        while True:
            count, pos = read_long(data, pos)
            if count == 0:
                return out, pos
            if count < 0:
                count = -count
                _, pos = read_long(data, pos)
            for _ in range(count):
                if keyed:
                    key, pos = read_string(data, pos)
                    out[key], pos = items(data, pos)
                else:
                    item, pos = items(data, pos)
                    out.append(item)

    return decode
