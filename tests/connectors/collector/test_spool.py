from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.collector.spool import Spool, SpooledRecord

RECORDS = st.lists(st.builds(SpooledRecord, st.sampled_from(["a.interactions", "a.rejected"]),
                             st.one_of(st.none(), st.binary(max_size=20)), st.binary(max_size=200)), max_size=30)


def test_append_peek_advance_in_order(tmp_path):
    spool = Spool(tmp_path)
    records = [SpooledRecord("t", f"k{i}".encode(), f"v{i}".encode()) for i in range(10)]
    spool.append(records[:4])
    spool.append(records[4:])
    assert spool.pending_records == 10 and spool.pending_bytes > 0
    assert spool.peek(3) == records[:3]
    spool.advance(3)
    assert spool.peek(100) == records[3:]
    spool.advance(100)
    assert spool.pending_records == 0 and spool.pending_bytes == 0 and spool.peek(1) == []


def test_survives_a_restart_and_resumes_at_the_cursor(tmp_path):
    spool = Spool(tmp_path)
    spool.append([SpooledRecord("t", None, bytes([i])) for i in range(5)])
    spool.advance(2)
    spool.close()
    reopened = Spool(tmp_path)
    assert reopened.pending_records == 3
    assert [r.value for r in reopened.peek(10)] == [b"\x02", b"\x03", b"\x04"]


def test_a_torn_tail_is_cut_off(tmp_path):
    spool = Spool(tmp_path)
    spool.append([SpooledRecord("t", b"k", b"good")])
    spool.close()
    [segment] = tmp_path.glob("*.spool")
    with open(segment, "ab") as out:
        out.write(b"\x00\x00\x00\x40garbage")  # a crash in the middle of the next append
    reopened = Spool(tmp_path)
    assert [r.value for r in reopened.peek(10)] == [b"good"]
    reopened.append([SpooledRecord("t", b"k", b"after")])
    assert [r.value for r in reopened.peek(10)] == [b"good", b"after"]


def test_segments_roll_and_delivered_ones_are_deleted(tmp_path):
    spool = Spool(tmp_path, segment_bytes=100)
    for i in range(10):
        spool.append([SpooledRecord("t", None, b"x" * 60)])
    assert len(list(tmp_path.glob("*.spool"))) > 3
    spool.advance(9)
    assert len(list(tmp_path.glob("*.spool"))) <= 2
    assert spool.pending_records == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(RECORDS, st.integers(0, 10)), max_size=8))
def test_delivers_exactly_what_was_appended_in_order(tmp_path_factory, steps):
    spool = Spool(tmp_path_factory.mktemp("spool"), segment_bytes=300)
    appended, delivered = [], []
    for records, take in steps:
        spool.append(records)
        appended.extend(records)
        batch = spool.peek(take)
        spool.advance(len(batch))
        delivered.extend(batch)
    delivered.extend(spool.peek(10**6))
    assert delivered == appended
