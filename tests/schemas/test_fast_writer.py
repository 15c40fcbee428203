"""The compiled encoders write exactly the bytes fastavro writes, for every schema."""

import io
from types import SimpleNamespace

import fastavro
import pytest
from fastavro.schema import parse_schema
from fastavro.utils import generate_many

from schemas.codec import SCHEMA_DIR, load_schema_json
from schemas.fast_writer import Unsupported, compile_encoder
from schemas.records import RECORD_TYPES


@pytest.mark.parametrize("name", sorted(RECORD_TYPES))
def test_same_bytes_as_fastavro(name):
    raw = load_schema_json(SCHEMA_DIR / f"{name}.avsc")
    parsed = parse_schema(raw)
    encode = compile_encoder(raw, from_attributes=False)
    for datum in generate_many(parsed, 300):
        expected = io.BytesIO()
        fastavro.schemaless_writer(expected, parsed, datum)
        out = bytearray()
        encode(datum, out)
        assert bytes(out) == expected.getvalue()


def test_extreme_longs_and_unicode():
    raw = {"type": "record", "name": "R", "fields": [{"name": "n", "type": "long"}, {"name": "s", "type": "string"}]}
    parsed = parse_schema(raw)
    encode = compile_encoder(raw)
    for n, s in [(0, ""), (-1, "é"), (2**63 - 1, "日本"), (-(2**63), "\U0001f600"), (63, "a"), (-64, "b")]:
        expected = io.BytesIO()
        fastavro.schemaless_writer(expected, parsed, {"n": n, "s": s})
        out = bytearray()
        encode(SimpleNamespace(n=n, s=s), out)
        assert bytes(out) == expected.getvalue()


def test_unsupported_shapes_are_refused_at_compile_time():
    with pytest.raises(Unsupported):
        compile_encoder({"type": "record", "name": "R", "fields": [{"name": "u", "type": ["int", "string"]}]})
