"""A store opened read-only, as `leadflow explain` and the prospect API open a worker's: no lock taken, the
worker's latest writes seen (replayed from its write-ahead log), nothing written, nothing created."""

import subprocess
import sys

import pytest

from leadflow.config import Config
from streams.store import RocksStore, StoreError, StoreIdentity, StoreLocked, open_read_only, store_path

IDENTITY = StoreIdentity("leadflow.prospect-state", 3, 1, 5)
HOLDER = """\
import sys
from pathlib import Path
from streams.store import RocksStore, StoreIdentity
store = RocksStore(Path(sys.argv[1]), 1)
store.reset(StoreIdentity("leadflow.prospect-state", 3, 1, 5))
store.write({b"a": b"A", b"a\\x00h.0.1": b"chunk"}, {b"a": b"9 "}, 17)
print("holding", flush=True)
sys.stdin.readline()  # until the test is done
store.write({b"b": b"B"}, {}, 18)
print("wrote", flush=True)
sys.stdin.readline()
store.close()
"""


def test_a_store_another_process_holds_and_writes_is_read_as_it_stood(tmp_path):
    path = tmp_path / "partition-1"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreLocked):
            RocksStore(path, 1)  # held: a second writer is refused ...
        reader = RocksStore(path, 1, read_only=True)  # ... a reader is not
        try:
            assert reader.identity() == IDENTITY and reader.offset() == 17  # unflushed: from the write-ahead log
            assert dict(reader.items()) == {b"a": b"A", b"a\x00h.0.1": b"chunk"}
            assert dict(reader.timers()) == {b"a": b"9 "}
            holder.stdin.write("\n")
            holder.stdin.flush()
            assert holder.stdout.readline().strip() == "wrote"
            assert reader.get(b"b") is None and reader.offset() == 17  # a snapshot: states and offset together
        finally:
            reader.close()
        again = RocksStore(path, 1, read_only=True)
        try:
            assert again.get(b"b") == b"B" and again.offset() == 18
        finally:
            again.close()
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(10)
    assert holder.returncode == 0


def test_a_read_only_store_refuses_writes(tmp_path):
    store = RocksStore(tmp_path / "p1", 1)
    store.reset(IDENTITY)
    store.write({b"a": b"A"}, {}, 3)
    store.close()
    reader = RocksStore(tmp_path / "p1", 1, read_only=True)
    try:
        with pytest.raises(StoreError, match="cannot write the state store"):
            reader.write({b"a": None}, {}, 4)
        with pytest.raises(StoreError):
            reader.reset(StoreIdentity("other.prospect-state", 3, 1, 5))
    finally:
        reader.close()
    store = RocksStore(tmp_path / "p1", 1)
    try:
        assert store.get(b"a") == b"A" and store.offset() == 3 and store.identity() == IDENTITY
    finally:
        store.close()


def test_no_store_on_disk_is_none_or_an_error_and_nothing_is_created(tmp_path):
    with pytest.raises(StoreError, match="there is none"):
        RocksStore(tmp_path / "missing", 0, read_only=True)
    assert not (tmp_path / "missing").exists()
    config = Config().with_changes(data_dir=tmp_path / "data")
    assert open_read_only(config, 0) is None
    assert not (tmp_path / "data").exists()
    RocksStore(store_path(config, 0), 0).close()
    opened = open_read_only(config, 0)
    try:
        assert isinstance(opened, RocksStore) and opened.offset() == 0
    finally:
        opened.close()
    assert open_read_only(config.with_changes(state_store="memory"), 0) is None  # in its worker only
