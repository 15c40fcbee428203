"""The collector's one JSON reader: hostile documents are a NotJson with a reason, never another exception."""

import pytest

from connectors.collector.json_reader import MAX_DEPTH, NotJson, depth, read_json


@pytest.mark.parametrize("body, reason", [
    (b"[" * 100_000, "nests deeper than 32"),
    (b'{"a":' * 40 + b"1" + b"}" * 40, "nests deeper than 32"),
    (b"1" * 5000, "more than 30 characters"),
    (b'{"deal_value": ' + b"9" * 5000 + b"}", "more than 30 characters"),
    (b"[1e999]", "out of range"),
    (b"[-Infinity]", "-Infinity is not a JSON value"),
    (b"NaN", "NaN is not a JSON value"),
    (b"\xff\xfe", "not UTF-8"),
    (b'{"a": 1', "body is not JSON"),
    (b"", "body is not JSON"),
])
def test_hostile_documents_are_refused_with_a_reason(body, reason):
    with pytest.raises(NotJson) as err:
        read_json(body)
    assert reason in str(err.value)


def test_documents_within_the_bounds_are_read():
    nested = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert depth(read_json(nested)) == MAX_DEPTH
    assert read_json('{"n": 123456789012345678901234567890, "x": -1.5e10, "s": "\\u0000"}') == {
        "n": 123456789012345678901234567890, "x": -1.5e10, "s": "\x00"}
    wide = b"[" + b",".join([b'{"a": [1]}'] * 10_000) + b"]"
    assert len(read_json(wide)) == 10_000
