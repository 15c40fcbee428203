"""A local append-only disk queue for records Kafka could not take.

Segments of length- and CRC-framed records, a cursor persisted after every replayed
batch, fsync on every append: an accepted event survives a Kafka outage and a
collector restart, and is replayed in the order it was accepted. A torn write at
the tail (a crash mid-append) is detected by its CRC and cut off on open. Spooled
records hold emails and IP addresses: the directory is 0700 and its files 0600,
whatever the umask.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator

_FRAME = struct.Struct(">II")  # payload length, crc32(payload)
_TOPIC = struct.Struct(">H")
_KEY = struct.Struct(">i")
SEGMENT_BYTES = 64 * 1024 * 1024
_SUFFIX = ".spool"


@dataclass(frozen=True, slots=True)
class SpooledRecord:
    topic: str
    key: bytes | None
    value: bytes

    def encode(self) -> bytes:
        topic = self.topic.encode()
        key = b"" if self.key is None else self.key
        return b"".join((_TOPIC.pack(len(topic)), topic, _KEY.pack(-1 if self.key is None else len(key)), key,
                         self.value))

    @classmethod
    def decode(cls, payload: bytes) -> "SpooledRecord":
        (topic_len,) = _TOPIC.unpack_from(payload, 0)
        offset = _TOPIC.size
        topic = payload[offset:offset + topic_len].decode()
        offset += topic_len
        (key_len,) = _KEY.unpack_from(payload, offset)
        offset += _KEY.size
        key = None if key_len < 0 else payload[offset:offset + key_len]
        offset += max(key_len, 0)
        return cls(topic, key, payload[offset:])


class Spool:
    def __init__(self, directory: Path, segment_bytes: int = SEGMENT_BYTES) -> None:
        self._dir = directory
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self._dir, 0o700)
        self._segment_bytes = segment_bytes
        self._cursor_path = directory / "cursor"
        self._cursor = self._read_cursor()
        segments = self._segments()
        if segments:
            self._repair_tail(segments[-1])
        self._writer: BinaryIO | None = None
        self._write_segment = segments[-1] if segments else self._cursor[0]
        self._pending = sum(1 for _ in self._frames_from(self._cursor))

    @property
    def pending_records(self) -> int:
        return self._pending

    @property
    def pending_bytes(self) -> int:
        segment, offset = self._cursor
        return sum(self._path(n).stat().st_size for n in self._segments() if n >= segment) - offset

    def append(self, records: list[SpooledRecord]) -> None:
        """Durable on return (fsync)."""
        if not records:
            return
        writer = self._open_writer()
        data = bytearray()
        for record in records:
            payload = record.encode()
            data += _FRAME.pack(len(payload), zlib.crc32(payload)) + payload
        writer.write(data)
        writer.flush()
        os.fsync(writer.fileno())
        self._pending += len(records)

    def peek(self, max_records: int) -> list[SpooledRecord]:
        out = []
        for record, _ in self._frames_from(self._cursor):
            out.append(record)
            if len(out) >= max_records:
                break
        return out

    def advance(self, count: int) -> None:
        """Mark the first ``count`` pending records as delivered; delete segments left behind."""
        position, moved = self._cursor, 0
        for _, end in self._frames_from(self._cursor):
            if moved == count:
                break
            position, moved = end, moved + 1
        self._cursor = position
        self._write_cursor()
        self._pending -= moved
        for segment in self._segments():
            if segment < position[0]:
                self._path(segment).unlink(missing_ok=True)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _open_writer(self) -> BinaryIO:
        path = self._path(self._write_segment)
        if self._writer is not None and path.stat().st_size >= self._segment_bytes:
            self._writer.close()
            self._writer = None
            self._write_segment += 1
            path = self._path(self._write_segment)
        if self._writer is None:
            self._writer = open(path, "ab", opener=_private)
        return self._writer

    def _frames_from(self, position: tuple[int, int]) -> Iterator[tuple[SpooledRecord, tuple[int, int]]]:
        segment, offset = position
        for number in [n for n in self._segments() if n >= segment]:
            start = offset if number == segment else 0
            with open(self._path(number), "rb") as source:
                source.seek(start)
                for payload, end in _intact_frames(source):
                    yield SpooledRecord.decode(payload), (number, end)

    def _repair_tail(self, segment: int) -> None:
        path = self._path(segment)
        good = 0
        with open(path, "rb") as source:
            for _, good in _intact_frames(source):
                pass
        if good < path.stat().st_size:
            with open(path, "r+b") as target:
                target.truncate(good)

    def _segments(self) -> list[int]:
        return sorted(int(p.stem) for p in self._dir.glob(f"*{_SUFFIX}"))

    def _path(self, segment: int) -> Path:
        return self._dir / f"{segment:012d}{_SUFFIX}"

    def _read_cursor(self) -> tuple[int, int]:
        try:
            segment, offset = self._cursor_path.read_text().split()
            return int(segment), int(offset)
        except (OSError, ValueError):
            return (0, 0)

    def _write_cursor(self) -> None:
        tmp = self._cursor_path.with_suffix(".tmp")
        with open(tmp, "w", opener=_private) as out:
            out.write(f"{self._cursor[0]} {self._cursor[1]}")
        os.replace(tmp, self._cursor_path)


def _private(path: str, flags: int) -> int:
    """An opener for files only their owner may read."""
    return os.open(path, flags, 0o600)


def _intact_frames(source: BinaryIO) -> Iterator[tuple[bytes, int]]:
    """Payloads and their end offsets, up to the first short or corrupt frame."""
    while True:
        header = source.read(_FRAME.size)
        if len(header) < _FRAME.size:
            return
        length, crc = _FRAME.unpack(header)
        payload = source.read(length)
        if len(payload) < length or zlib.crc32(payload) != crc:
            return
        yield payload, source.tell()
