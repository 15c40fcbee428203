"""The compiled decoders read exactly what fastavro reads, for every schema, and refuse truncated bodies."""

import io

import fastavro
import pytest
from fastavro.schema import parse_schema
from fastavro.utils import generate_many
from hypothesis import given
from hypothesis import strategies as st

from schemas.codec import SCHEMA_DIR, Codec, DecodeError, load_schema_json
from schemas.fast_reader import compile_decoder, compile_field_reader
from schemas.records import RECORD_TYPES


def fastavro_bytes(parsed, datum) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, parsed, datum)
    return out.getvalue()


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_same_values_as_fastavro(name):
    raw = load_schema_json(SCHEMA_DIR / f"{name}.avsc")
    parsed = parse_schema(raw)
    decode = compile_decoder(raw)
    for datum in generate_many(parsed, 300):
        data = fastavro_bytes(parsed, datum)
        value, end = decode(data, 0)
        assert value == fastavro.schemaless_reader(io.BytesIO(data), parsed, None)
        assert end == len(data)


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.text(), st.binary(), st.floats(allow_nan=False),
       st.dictionaries(st.text(), st.text(), max_size=3), st.lists(st.integers(-(2**31), 2**31 - 1), max_size=5))
def test_primitives_maps_and_arrays_round_trip(n, s, b, x, mapping, items):
    raw = {"type": "record", "name": "R", "fields": [
        {"name": "n", "type": "long"}, {"name": "s", "type": "string"}, {"name": "b", "type": "bytes"},
        {"name": "x", "type": "double"}, {"name": "m", "type": {"type": "map", "values": "string"}},
        {"name": "a", "type": {"type": "array", "items": "int"}}, {"name": "o", "type": ["null", "string"]}]}
    datum = {"n": n, "s": s, "b": b, "x": x, "m": mapping, "a": items, "o": s or None}
    assert compile_decoder(raw)(fastavro_bytes(parse_schema(raw), datum), 0)[0] == datum


def test_blocks_with_byte_sizes_are_read():
    """Writers may send a negative item count followed by the block's size in bytes."""
    raw = {"type": "array", "items": "long"}
    # count -2 (zigzag 3), block size 2 bytes, items 1 and 2 (zigzag 2 and 4), end of array.
    assert compile_decoder(raw)(bytes([3, 4, 2, 4, 0]), 0) == ([1, 2], 5)


def test_a_truncated_value_is_a_decode_error():
    codec = Codec()
    data = codec.encode(RECORD_TYPES["Interaction"](event_id="e1", prospect_key="p1", type="page.viewed",
                                                    occurred_at=1, received_at=1, source="test", url="https://a.io"),
                        "t")
    for cut in range(11, len(data) - 1):
        with pytest.raises(DecodeError):
            codec.decode(data[:cut])


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_a_field_reader_reads_what_the_whole_decode_reads(name):
    raw = load_schema_json(SCHEMA_DIR / f"{name}.avsc")
    parsed = parse_schema(raw)
    readers = {f["name"]: compile_field_reader(raw, f["name"]) for f in raw["fields"]}
    for datum in generate_many(parsed, 100):
        data = fastavro_bytes(parsed, datum)
        whole = compile_decoder(raw)(data, 0)[0]
        assert {field: read(data, 0)[0] for field, read in readers.items()} == whole
    assert compile_field_reader(raw, "no_such_field") is None


def test_a_field_reader_stops_at_its_field():
    raw = {"type": "record", "name": "R", "fields": [{"name": "s", "type": "string"},
                                                      {"name": "o", "type": ["null", "string"]},
                                                      {"name": "n", "type": "long"}, {"name": "t", "type": "string"}]}
    data = fastavro_bytes(parse_schema(raw), {"s": "skipped", "o": "too", "n": -5, "t": "read"})
    value, end = compile_field_reader(raw, "n")(data, 0)
    assert (value, data[end:]) == (-5, b"\x08read")  # the string after it is left unread
