"""Both cores for `leadflow backtest` and `leadflow tune`: histories replayed in chunks in worker processes.

Why processes: the replay is pure Python, one core per process. Why chunks of encoded rows:
pickling a million ``Interaction`` objects costs more than replaying them, so a chunk travels
as one orjson blob of positional rows (``encode``: a stored history's rows, ``streams.history_codec``),
rebuilt in the worker without ``__init__``. Why spawn: it works the same on every platform and in a process with threads
(the Kafka client's); every task is a module-level function and every argument picklable.
Results come back in chunk order (``imap``) and are merged in that order, so the same input
gives the same figures to the last cent.

Tuning keeps its reduced prospects resident in one process per shard (``ShardPool``): a
search sends hundreds of small batches of point vectors, each scored by every shard at once.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, TextIO, TypeVar

import orjson

from streams import history_codec
from streams.core.backtest import Tally, Window, tally
from streams.core.history import Input
from streams.core.model import ScoringModel, parse_model
from streams.core.tuning_data import Shard, Space, Sweep, TuningProspect, extract

CHUNK = 2_000  # prospects per task: small enough for progress and balance, large enough to amortize the trip

History = tuple[str, Sequence[Input]]
T = TypeVar("T")


def encode(histories: Iterable[History]) -> bytes:
    """Histories as one blob: [key, [row, ...]] per prospect, its inputs as a stored state's history holds them
    (``streams.history_codec``: positional, repeated fields written once)."""
    return orjson.dumps([[key, history_codec.encode(inputs)] for key, inputs in histories])


def decode(blob: bytes) -> list[tuple[str, list[Input]]]:
    return [(key, history_codec.decode(rows)) for key, rows in orjson.loads(blob)]


class Source(Protocol):
    """A chunk of histories a worker can produce: encoded rows, or (the benchmark) a seeded generator."""

    count: int

    def histories(self) -> list[tuple[str, list[Input]]]: ...


@dataclass(frozen=True)
class Encoded:
    blob: bytes
    count: int

    def histories(self) -> list[tuple[str, list[Input]]]:
        return decode(self.blob)


def processes_for(prospects: int, wanted: int, size: int = CHUNK) -> int:
    """No more processes than chunks: a history of a few thousand prospects is replayed here, sparing the
    second or so a spawned process takes to start."""
    return max(1, min(wanted, -(-prospects // size)))


def chunked(histories: Iterable[History], size: int = CHUNK) -> Iterator[Encoded]:
    batch: list[History] = []
    for history in histories:
        batch.append(history)
        if len(batch) == size:
            yield Encoded(encode(batch), len(batch))
            batch = []
    if batch:
        yield Encoded(encode(batch), len(batch))


_MODEL: ScoringModel | None = None  # each worker's model, parsed once by _start


def _start(model_text: str, source: str) -> None:
    global _MODEL
    _MODEL = parse_model(model_text, source)


@dataclass(frozen=True)
class BacktestJob:
    thresholds: tuple[float, ...]
    window: Window


@dataclass(frozen=True)
class FeaturesJob:
    bounds: Space


@dataclass
class Extracted:
    """A chunk reduced for tuning, with what the periods need to know about every prospect in it."""

    prospects: list[TuningProspect]
    count: int
    inputs: int
    first_at: int | None
    last_at: int | None


def _run(task: tuple[Any, Source]) -> tuple[Any, int, float, float]:
    """One chunk in a worker: (result, prospects, CPU seconds getting the histories, CPU seconds on them)."""
    job, source = task
    assert _MODEL is not None
    started = time.process_time()
    histories = source.histories()
    loaded = time.process_time()
    if isinstance(job, BacktestJob):
        result: Any = tally(histories, _MODEL, job.thresholds, job.window)
    else:
        prospects = [p for key, inputs in histories if (p := extract(key, inputs, _MODEL, job.bounds)) is not None]
        times = [t for _, inputs in histories if inputs for t in (inputs[0].occurred_at, inputs[-1].occurred_at)]
        result = Extracted(prospects, len(histories), sum(len(i) for _, i in histories),
                           min(times, default=None), max(times, default=None))
    return result, len(histories), loaded - started, time.process_time() - loaded


class Progress:
    """'backtest: 120,000 of 1,000,000 prospects replayed (40,000/s, ETA 22 s)' on stderr, at most once a
    second, and only once a run has taken a second (short runs stay quiet)."""

    def __init__(self, label: str, total: int | None, stream: TextIO | None = None, every: float = 1.0,
                 unit: str = "prospects replayed") -> None:
        self.label, self.total, self.stream, self.every, self.unit = label, total, stream or sys.stderr, every, unit
        self.started = self.shown = time.monotonic()
        self.done = 0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if now - self.shown >= self.every:
            self.shown = now
            self.say(self.line(now))

    def line(self, now: float) -> str:
        rate = self.done / max(now - self.started, 1e-9)
        of = f" of {self.total:,}" if self.total else ""
        eta = f", ETA {max(self.total - self.done, 0) / rate:,.0f} s" if self.total and rate else ""
        return f"{self.label}: {self.done:,}{of} {self.unit} ({rate:,.0f}/s{eta})"

    def say(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


@dataclass
class Seconds:
    """CPU time the workers spent getting histories (decoding, or generating them) and replaying them."""

    loading: float = 0.0
    replaying: float = 0.0


Mapper = Callable[[Callable[[Any], Any], Iterable[Any]], Iterator[Any]]


@contextmanager
def workers(model_text: str, model_source: str, processes: int = 2) -> Iterator[Mapper]:
    """An ordered map over the worker processes (``processes`` <= 1: here), each holding the model: one pool
    for every step of a command (reading a history file, then replaying it), so processes spawn once."""
    if processes <= 1:
        _start(model_text, model_source)
        yield map
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, _start, (model_text, model_source)) as pool:
        yield pool.imap


def run_chunks(job: Any, sources: Iterable[Source], model_text: str, model_source: str, processes: int = 2,
               progress: Progress | None = None, seconds: Seconds | None = None,
               mapper: Mapper | None = None) -> Iterator[Any]:
    """Each chunk's result in chunk order, on ``mapper``'s workers or on a pool of ``processes`` of its own."""
    tasks = ((job, source) for source in sources)
    if mapper is not None:
        yield from _counted(mapper(_run, tasks), progress, seconds)
        return
    with workers(model_text, model_source, processes) as own:
        yield from _counted(own(_run, tasks), progress, seconds)


def _counted(results: Iterable[tuple[Any, int, float, float]], progress: Progress | None,
             seconds: Seconds | None) -> Iterator[Any]:
    for result, count, loading, replaying in results:
        if progress is not None:
            progress.advance(count)
        if seconds is not None:
            seconds.loading += loading
            seconds.replaying += replaying
        yield result


def backtest(sources: Iterable[Source], model_text: str, model_source: str, model: ScoringModel,
             thresholds: Sequence[float], window: Window, processes: int = 2, progress: Progress | None = None,
             seconds: Seconds | None = None, mapper: Mapper | None = None) -> Tally:
    """The tally of every chunk, merged in chunk order."""
    total = Tally.empty(thresholds, window, model.promote_threshold)
    for part in run_chunks(BacktestJob(tuple(thresholds), window), sources, model_text, model_source, processes,
                           progress, seconds, mapper):
        total.merge(part)
    return total


def extract_all(sources: Iterable[Source], model_text: str, model_source: str, bounds: Space,
                processes: int = 2, progress: Progress | None = None, mapper: Mapper | None = None) -> Extracted:
    """Every chunk reduced for tuning, concatenated in chunk order."""
    total = Extracted([], 0, 0, None, None)
    for part in run_chunks(FeaturesJob(bounds), sources, model_text, model_source, processes, progress,
                           mapper=mapper):
        total.prospects.extend(part.prospects)
        total.count += part.count
        total.inputs += part.inputs
        total.first_at = _pick(min, total.first_at, part.first_at)
        total.last_at = _pick(max, total.last_at, part.last_at)
    return total


def _pick(choose: Callable[[int, int], int], a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else choose(a, b)


def _shard_main(connection: Connection) -> None:
    """A shard's process: build the shard from the first message, then answer (method, arguments) requests
    until None."""
    prospects, grid, split = connection.recv()
    shard = Shard(prospects, grid, split)
    while (request := connection.recv()) is not None:
        method, arguments = request
        connection.send(getattr(shard, method)(*arguments))


class ShardPool:
    """The tuning prospects split over ``processes`` resident shards; answers are summed in shard order."""

    def __init__(self, prospects: Sequence[TuningProspect], grid: Sequence[float], split: int,
                 processes: int = 2, least: int = 500) -> None:
        count = max(1, min(processes, len(prospects) // least))  # fewer than ``least`` a process: not worth one
        parts = [list(prospects[k::count]) for k in range(count)]
        self.local = Shard(parts[0], grid, split) if count == 1 else None
        self.connections: list[Connection] = []
        self.processes: list[Any] = []
        if self.local is None:
            context = multiprocessing.get_context("spawn")
            for part in parts:
                mine, theirs = context.Pipe()
                process = context.Process(target=_shard_main, args=(theirs,), daemon=True)
                process.start()
                mine.send((part, tuple(grid), split))
                self.connections.append(mine)
                self.processes.append(process)

    def _ask(self, method: str, *arguments: Any) -> list[Any]:
        if self.local is not None:
            return [getattr(self.local, method)(*arguments)]
        for connection in self.connections:
            connection.send((method, arguments))
        return [connection.recv() for connection in self.connections]

    def evaluate(self, vectors: Sequence[Sequence[float]]) -> list[Sweep]:
        answers = self._ask("evaluate", [tuple(v) for v in vectors])
        totals = answers[0]
        for answer in answers[1:]:
            totals = [a.plus(b) for a, b in zip(totals, answer)]
        return totals

    def histograms(self, vector: Sequence[float], edges: Sequence[float]) -> tuple[list[int], list[int]]:
        won, rejected = [0] * (len(edges) - 1), [0] * (len(edges) - 1)
        for part_won, part_rejected in self._ask("histograms", tuple(vector), tuple(edges)):
            won = [a + b for a, b in zip(won, part_won)]
            rejected = [a + b for a, b in zip(rejected, part_rejected)]
        return won, rejected

    def close(self) -> None:
        for connection in self.connections:
            try:
                connection.send(None)
            except OSError:  # the shard's process is gone already (interrupted): nothing to stop
                pass
            connection.close()
        for process in self.processes:
            process.join(timeout=10)
        self.connections, self.processes = [], []

    def __enter__(self) -> "ShardPool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
