import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fastavro
import pytest
from fastavro.schema import parse_schema

from schemas import Action, Codec, DecodeError, Interaction, LeadEvent, RejectedInput, Score, TimelineEntry
from schemas.codec import SCHEMA_DIR, SINGLE_OBJECT_MAGIC, UNREAD, history, schema_fingerprint
from schemas.registry import SchemaRegistryClient

INTERACTION = Interaction(event_id="e1", prospect_key="p_1", type="page.viewed", occurred_at=1, received_at=2,
                          source="pixel", prospect_id="p_1", url="https://x/pricing", properties={"a": "b"})
LEAD = LeadEvent(event_id="l1", prospect_id="p_1", type="lead.promoted", occurred_at=1, received_at=2, version=7,
                 stage="lead", score=Score(60, 10, 50), model_version="m1", cause_event_id="e1",
                 segments=("pricing",), timeline=(TimelineEntry("e1", "page.viewed", 1, "pixel", "u", 20.0),))


ACTION = Action(action_id="a1", prospect_id="p_1", type="notify", source="pricing-twice", source_kind="automation",
                file_version="a1", due_at=3, occurred_at=2, cause_event_id="e1", target="owner",
                payload={"message": "Ada viewed pricing twice"}, email="ada@example.com")


@pytest.mark.parametrize("record", [INTERACTION, LEAD, RejectedInput("r", 1, 1, "pixel", "bad", b"\x00raw"), ACTION])
def test_round_trip(record):
    codec = Codec()
    assert codec.decode(codec.encode(record, "t")) == record


def test_single_object_framing_names_the_writer_schema():
    data = Codec().encode(INTERACTION, "t")
    assert data[:2] == SINGLE_OBJECT_MAGIC
    assert len(data[2:10]) == 8


def test_unknown_fingerprint_and_garbage_are_refused():
    codec = Codec()
    with pytest.raises(DecodeError, match="unknown schema fingerprint"):
        codec.decode(SINGLE_OBJECT_MAGIC + b"\x01" * 8 + b"body")
    with pytest.raises(DecodeError, match="neither"):
        codec.decode(b"{json}")
    with pytest.raises(DecodeError, match="no registry"):
        codec.decode(b"\x00\x00\x00\x00\x01body")
    good = codec.encode(LEAD, "t")
    with pytest.raises(DecodeError, match="corrupt LeadEvent"):
        codec.decode(good[:14])


class _Registry(BaseHTTPRequestHandler):
    """Just enough of the Confluent Schema Registry REST API to exercise the wire format."""

    schemas: list[str] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if body["schema"] not in self.schemas:
            self.schemas.append(body["schema"])
        self._reply({"id": self.schemas.index(body["schema"]) + 1})

    def do_GET(self):
        schema_id = int(self.path.rsplit("/", 1)[-1])
        self._reply({"schema": self.schemas[schema_id - 1]})

    def _reply(self, payload):
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_schema_registry_wire_format():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        writer = Codec(SchemaRegistryClient(url))
        data = writer.encode(LEAD, "leadflow.leads")
        assert data[0] == 0 and int.from_bytes(data[1:5], "big") == 1
        reader = Codec(SchemaRegistryClient(url))  # a fresh process: fetches the schema by id
        assert reader.decode(data) == LEAD
        assert reader.decode(Codec().encode(LEAD, "x")) == LEAD  # both framings readable
    finally:
        server.shutdown()


def test_fingerprint_is_canonical():
    a = {"type": "record", "name": "A", "fields": [{"name": "x", "type": "int", "doc": "ignored"}]}
    b = {"name": "A", "type": "record", "fields": [{"type": "int", "name": "x"}]}
    assert schema_fingerprint(a) == schema_fingerprint(b)


def test_peek_reads_one_field_as_the_writer_schema_wrote_it():
    codec = Codec()
    data = codec.encode(INTERACTION, "t")
    assert codec.peek(data, "Interaction", "type") == "page.viewed"
    assert codec.peek(data, "Interaction", "prospect_id") == "p_1"
    old = [s for s in history("Interaction") if schema_fingerprint(s) != schema_fingerprint(
        json.loads((SCHEMA_DIR / "Interaction.avsc").read_text()))][0]  # a released older writer schema
    body = io.BytesIO()
    fastavro.schemaless_writer(body, parse_schema(old), {**fastavro_defaults(old), "event_id": "e0",
                                                          "prospect_key": "p_0", "type": "email.bounced",
                                                          "occurred_at": 1, "received_at": 1, "source": "ses"})
    assert codec.peek(SINGLE_OBJECT_MAGIC + schema_fingerprint(old) + body.getvalue(), "Interaction",
                      "type") == "email.bounced"


def test_peek_answers_unread_when_it_cannot_tell():
    codec = Codec()
    data = codec.encode(INTERACTION, "t")
    assert codec.peek(codec.encode(LEAD, "t"), "Interaction", "type") is UNREAD  # another record
    assert codec.peek(data, "Interaction", "no_such_field") is UNREAD
    assert codec.peek(data[:14], "Interaction", "type") is UNREAD  # cut short: decode reports it
    assert codec.peek(b"{json}", "Interaction", "type") is UNREAD
    assert codec.peek(SINGLE_OBJECT_MAGIC + b"\x01" * 8 + b"body", "Interaction", "type") is UNREAD


def fastavro_defaults(schema):
    return {f["name"]: f["default"] for f in schema["fields"] if "default" in f}
