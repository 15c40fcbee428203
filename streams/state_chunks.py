"""A prospect's state as several changelog records: a small head, and its long lists in chunks.

Why: a hot prospect keeps up to 500 inputs of history, 1,000 ledger entries and 2,000 recent
event ids, and it changes at every checkpoint; writing its whole state each time made the
changelog grow by kilobytes per input (`bench/scale.py`). The lists are mostly appended to
and trimmed at the old end, so each is cut into chunks of consecutive entries, numbered by
the entries' absolute position; a checkpoint writes the head and only the chunks whose
entries changed (usually the last one), and deletes the chunks trimmed away. A list no
longer than one chunk stays in the head: most prospects have a handful of inputs, and
one record each.

Records, all in the prospect's partition: the head under the prospect's key, each chunk
under ``key NUL <list code>.<chunk number>.<state version>``. The head lists the chunk
keys it was written with, and is written after its chunks and before the tombstones of
the chunks it replaced, so a reader that has a head has everything it names, even if the
writer died halfway. A replay writes the same keys (the state version is deterministic).

What the last write held is kept per prospect (``Written``, by the table) and compared by
identity: the core never changes an entry in place, it appends, inserts or drops them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import orjson

from streams.core.prospect import ProspectState
from streams.state_codec import LISTS, decode_list, encode_list, head_fields, list_of, state_from

SEP = b"\x00"
CODES = {"history": "h", "ledger": "l", "seen": "s"}
SIZES = {"history": 32, "ledger": 64, "seen": 256}  # entries per chunk: a few KiB each
# A list in the head this short is encoded afresh at each write: comparing it with the last write and keeping that
# costs more than encoding a few entries (most names have a handful of inputs).
REENCODE = 8
_NOTHING: dict = {}
_NO_KEYS: dict[int, bytes] = {}


@dataclass
class Written:
    """Per list: the absolute position of its first entry, the entries as last written, the chunk keys then, and
    for a list kept in the head its entries as encoded then (reused for the entries still there). A list no
    longer than ``REENCODE`` is not kept: nothing of its last write is needed."""

    lists: dict[str, tuple[int, tuple, dict[int, bytes], list | None]] = field(default_factory=dict)


def is_chunk(key: bytes) -> bool:
    return SEP in key


def prospect_of(key: bytes) -> bytes:
    """The prospect a changelog key belongs to (a head's key is the prospect's)."""
    return key.split(SEP, 1)[0]


def dump(key: bytes, state: ProspectState,
         written: Written | None) -> tuple[list[tuple[bytes, bytes | None]], Written | None]:
    """The records a checkpoint writes for this state (chunks, head, then tombstones), and what they hold (None:
    nothing worth keeping, every list short and in the head)."""
    chunks: list[tuple[bytes, bytes | None]] = []
    gone: list[tuple[bytes, bytes | None]] = []
    head = head_fields(state)
    listing = {}
    now: dict[str, tuple[int, tuple, dict[int, bytes], list | None]] = {}
    olds = written.lists if written is not None else _NOTHING
    for name in LISTS:
        entries = list_of(state, name)
        count = len(entries)
        old = olds.get(name)
        if count <= SIZES[name]:  # short: in the head itself (most prospects have a handful of inputs)
            if count <= REENCODE:  # re-encoding costs less than finding what is unchanged; nothing to keep
                encoded = encode_list(name, entries)
            else:
                entries = tuple(entries)
                if old is not None and old[3] is not None:
                    shift, same = _align(old[1], entries)
                    encoded = old[3][shift:shift + same]
                    if shift and encoded:  # its first entry may have been written after one dropped since
                        encoded[0] = encode_list(name, entries[:1])[0]
                    encoded += encode_list(name, entries[same:], entries[same - 1] if same else None)
                else:
                    encoded = encode_list(name, entries)
                now[name] = (0, entries, _NO_KEYS, encoded)  # once it outgrows the head, every chunk is new
            head[name] = encoded
            if old is not None and old[2]:
                gone.extend((k, None) for k in old[2].values())
            listing[name] = [0, count, None]
            continue
        entries = tuple(entries)
        base, keys = _chunks(key, name, entries, old, state.version, chunks)
        if old is not None:
            gone.extend((k, None) for c, k in old[2].items() if keys.get(c) != k)
        now[name] = (base, entries, keys, None)
        listing[name] = [base, count, [k.decode("latin-1") for _, k in sorted(keys.items())]]
    head["chunks"] = listing
    return [*chunks, (key, orjson.dumps(head)), *gone], Written(now) if now else None


def _align(old_entries: tuple, entries: tuple) -> tuple[int, int]:
    """(how many entries were dropped from the old start, how many after that are the same entries as before).

    "The same": identical, or equal (a recomputed entry equal to the one written needs no write). Tuple
    comparison does it in C, at a few ns an entry: a Python loop over a hot prospect's 2,000 recent ids and 500
    inputs was most of its write (~175 of ~210 us)."""
    shift = _index(old_entries, entries[0]) if entries else len(old_entries)
    limit = min(len(entries), len(old_entries) - shift)
    if entries[:limit] == old_entries[shift:shift + limit]:  # the usual: appended to, or trimmed at the old end
        return shift, limit
    low, high = 0, limit - 1  # the longest same prefix, by halving (a late input inserted in the middle)
    while low < high:
        middle = (low + high + 1) // 2
        if entries[:middle] == old_entries[shift:shift + middle]:
            low = middle
        else:
            high = middle - 1
    return shift, low


def _chunks(key: bytes, name: str, entries: tuple, old: tuple | None, version: int,
            out: list[tuple[bytes, bytes | None]]) -> tuple[int, dict[int, bytes]]:
    """Write the chunks of ``entries`` that differ from ``old``; (absolute position of the first entry, the chunk
    keys by chunk number)."""
    size = SIZES[name]
    if old is None:
        base, same, old_keys, old_base, old_len = 0, 0, {}, 0, 0
    else:
        old_base, old_entries, old_keys, _ = old
        old_len = len(old_entries)
        shift, same = _align(old_entries, entries)  # same: entries from the start written before as they are
        base = old_base + shift
    keys: dict[int, bytes] = {}
    if not entries:
        return base, keys
    # chunks wholly inside both the entries unchanged and the old list, and starting at or after the base: kept
    # as they are (a hot prospect's lists span dozens of chunks, and one or two change)
    kept_from, kept_to = -(-base // size), min(base + same, old_base + old_len) // size
    for number in range(base // size, (base + len(entries) - 1) // size + 1):
        if kept_from <= number < kept_to:
            old_key = old_keys.get(number)
            if old_key is not None:
                keys[number] = old_key
                continue
        start, end = max(number * size, base), min((number + 1) * size, base + len(entries))
        unchanged = (number in old_keys and start == max(number * size, old_base)
                     and end == min((number + 1) * size, old_base + old_len) and end <= base + same)
        if unchanged:
            keys[number] = old_keys[number]
            continue
        chunk_key = key + SEP + f"{CODES[name]}.{number}.{version}".encode()
        out.append((chunk_key, orjson.dumps(encode_list(name, entries[start - base:end - base]))))
        keys[number] = chunk_key
    return base, keys


def _index(entries: tuple, entry: object) -> int:
    for position, candidate in enumerate(entries):
        if candidate is entry:
            return position
    return len(entries)  # not there: everything written before is gone (or the list starts with a new entry)


def load(head: bytes, chunk: Callable[[bytes], bytes | None]) -> tuple[ProspectState, Written | None]:
    """A state from its head and its chunks (``chunk`` reads one by key); a head written whole (before chunks,
    format 5) loads as it is, with nothing known of what was written."""
    raw = orjson.loads(head)
    listing = raw.get("chunks")
    if listing is None:
        return state_from(raw), None
    lists = {}
    kept: dict[str, tuple[int, dict[int, bytes], list | None]] = {}  # what a later dump needs: see ``dump``
    for name in LISTS:
        base, count, names = listing[name]
        if names is None:  # short: in the head
            encoded = raw[name]
            entries = decode_list(name, encoded)
            if count > REENCODE:
                kept[name] = (base, _NO_KEYS, encoded)
        else:
            entries = []
            keys: dict[int, bytes] = {}
            for chunk_name in names:
                chunk_key = chunk_name.encode("latin-1")
                data = chunk(chunk_key)
                if data is None:
                    raise ValueError(f"prospect {raw['key']}: chunk {chunk_key!r} of its {name} is missing")
                keys[int(chunk_key.rsplit(b".", 2)[1])] = chunk_key
                entries.extend(decode_list(name, orjson.loads(data)))
            kept[name] = (base, keys, None)
        if len(entries) != count:
            raise ValueError(f"prospect {raw['key']}: its {name} has {len(entries)} entries, its head says {count}")
        lists[name] = entries
    state = state_from(raw, lists)
    if not kept:
        return state, None
    # identities come from the state built (its own lists)
    return state, Written({name: (base, tuple(list_of(state, name)), keys, encoded)
                           for name, (base, keys, encoded) in kept.items()})


def chunk_keys(head: bytes) -> Iterable[bytes]:
    listing = orjson.loads(head).get("chunks") or {}
    for _, _, names in listing.values():
        for chunk_name in names or ():
            yield chunk_name.encode("latin-1")
