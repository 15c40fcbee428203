"""Schema evolution guard: each schema must stay readable-compatible with every released version.

Changing ``schemas/X.avsc`` requires adding it as ``schemas/history/X/v<N+1>.avsc``; a change that
cannot read data written by the previous release (a new field without a default, a changed type)
fails here.
"""

import dataclasses
import io

import fastavro
import pytest
from fastavro.schema import parse_schema
from fastavro.utils import generate_many

from schemas.codec import SCHEMA_DIR, history, load_schema_json, schema_fingerprint
from schemas.records import RECORD_TYPES

NAMES = sorted(RECORD_TYPES)


@pytest.mark.parametrize("name", NAMES)
def test_current_schema_is_released(name):
    current = load_schema_json(SCHEMA_DIR / f"{name}.avsc")
    released = history(name)
    assert released, f"schemas/history/{name}/v1.avsc is missing"
    assert schema_fingerprint(released[-1]) == schema_fingerprint(current), (
        f"schemas/{name}.avsc changed: copy it to schemas/history/{name}/v{len(released) + 1}.avsc")


def assert_backward_compatible(old: dict, new: dict) -> None:
    """The new schema, as reader, reads everything the old one wrote."""
    writer, reader = parse_schema(old), parse_schema(new)
    for datum in generate_many(writer, 50):
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, writer, datum)
        buf.seek(0)
        fastavro.schemaless_reader(buf, writer, reader)


@pytest.mark.parametrize("name", NAMES)
def test_each_release_reads_its_predecessor(name):
    versions = history(name)
    for old, new in zip(versions, versions[1:]):
        assert_backward_compatible(old, new)


def test_an_incompatible_change_is_detected():
    old = load_schema_json(SCHEMA_DIR / "CrmFeedback.avsc")
    new = {**old, "fields": [*old["fields"], {"name": "required_new", "type": "string"}]}
    with pytest.raises(Exception):
        assert_backward_compatible(old, new)
    compatible = {**old, "fields": [*old["fields"], {"name": "optional_new", "type": ["null", "string"],
                                                     "default": None}]}
    assert_backward_compatible(old, compatible)


@pytest.mark.parametrize("name", NAMES)
def test_records_mirror_the_schema(name):
    schema_fields = [f["name"] for f in load_schema_json(SCHEMA_DIR / f"{name}.avsc")["fields"]]
    record_fields = [f.name for f in dataclasses.fields(RECORD_TYPES[name])]
    assert sorted(schema_fields) == sorted(record_fields)
