"""A history file read by the worker processes in byte ranges and shards: the same figures as one range read in
one process, whatever the cut, and a bad row's exact FILE:LINE (the first in the file) from any range."""

import orjson
import pytest

from leadflow import history_shards
from leadflow.cli import main
from leadflow.history_file import Span
from leadflow.history_shards import Plan, spans
from tests.leadflow.test_tuning_commands import data_file, user  # noqa: F401 (a fixture)


def test_spans_cut_the_file_at_line_ends_with_each_first_line(tmp_path):
    path = tmp_path / "rows.jsonl"
    lines = [orjson.dumps({"n": n, "pad": "x" * (n % 7)}) + b"\n" for n in range(200)]
    path.write_bytes(b"".join(lines) + b"\n")  # and a blank last line
    data = path.read_bytes()
    cuts = spans(path, 100)
    assert len(cuts) > 10 and cuts[0].start == 0 and cuts[-1].end == len(data)
    for before, after in zip(cuts, cuts[1:]):
        assert before.end == after.start and data[after.start - 1:after.start] == b"\n"
        assert after.line == data[:after.start].count(b"\n") + 1
    assert spans(tmp_path / "rows.csv") is None and spans(path, 10 ** 9) == [Span(0, len(data), 1)]


def test_the_figures_do_not_depend_on_the_cut_or_the_process_count(user, capsys, monkeypatch):  # noqa: F811
    data = data_file(user, 400)  # rows shuffled across prospects, as an export gives them
    with open(data, "ab") as file:  # and one row twice: it counts once
        file.write(open(data, "rb").readline())
    assert Plan.of(data).processes(2) == 1
    assert main(["backtest", "--model", "model.yaml", "--data", data]) == 0
    whole = capsys.readouterr().out
    monkeypatch.setattr(history_shards, "SPAN_BYTES", 4_000)
    monkeypatch.setattr(history_shards, "SHARD_BYTES", 20_000)
    plan = Plan.of(data)
    assert len(plan.spans) > 10 and plan.shards > 3 and plan.processes(2) == 2
    for processes in ("1", "2"):
        assert main(["backtest", "--model", "model.yaml", "--data", data, "--processes", processes]) == 0
        assert capsys.readouterr().out == whole


@pytest.mark.parametrize("processes", ["1", "2"])
def test_a_bad_row_in_any_range_is_reported_at_its_line_and_the_first_one_wins(user, capsys, monkeypatch,  # noqa: F811
                                                                                processes):
    data = data_file(user, 200)
    rows = open(data, "rb").read().splitlines(keepends=True)
    rows[-40] = b'{"kind": "visit", "occurred_at": 1, "email": "a@x.io"}\n'
    rows[len(rows) // 2] = b'{"kind": "outcome", "occurred_at": 1, "email": "a@x.io", "verdict": "maybe"}\n'
    open(data, "wb").write(b"".join(rows))
    monkeypatch.setattr(history_shards, "SPAN_BYTES", 3_000)
    assert len(Plan.of(data).spans) > 5
    assert main(["backtest", "--model", "model.yaml", "--data", data, "--processes", processes]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]  # after any progress line
    assert error.startswith(f"leadflow: {data}:{len(rows) // 2 + 1}: ") and "maybe" in error


def test_a_bad_row_met_in_the_replay_is_the_first_of_the_file_whichever_shard_met_it(user, capsys,  # noqa: F811
                                                                                    monkeypatch):
    from leadflow.history_shards import shard_of
    from streams.core.identity import prospect_id_for

    data = data_file(user, 300)
    monkeypatch.setattr(history_shards, "SPAN_BYTES", 3_000)
    monkeypatch.setattr(history_shards, "SHARD_BYTES", 15_000)
    shards = Plan.of(data).shards
    emails = {shard_of(prospect_id_for(f"bad{n}@x.io"), shards): f"bad{n}@x.io" for n in range(200)}
    low, high = min(emails), max(emails)
    assert low < high
    rows = open(data, "rb").read().splitlines(keepends=True)
    early, late = len(rows) // 3, 2 * len(rows) // 3  # the early bad row in a later shard than the late one
    for at, email in ((early, emails[high]), (late, emails[low])):
        rows[at] = orjson.dumps({"kind": "outcome", "occurred_at": 1, "email": email, "verdict": "maybe"}) + b"\n"
    open(data, "wb").write(b"".join(rows))
    assert main(["backtest", "--model", "model.yaml", "--data", data, "--processes", "2"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"leadflow: {data}:{early + 1}: ")


def test_tune_proposes_the_same_candidate_from_a_file_cut_in_ranges_and_shards(user, capsys, monkeypatch):  # noqa: F811
    data = data_file(user, 1500)
    argv = ["tune", "--model", "model.yaml", "--data", data, "--min-leads", "50", "--out", "candidate.yaml"]
    whole = main(argv)
    first = capsys.readouterr().out
    monkeypatch.setattr(history_shards, "SPAN_BYTES", 50_000)
    monkeypatch.setattr(history_shards, "SHARD_BYTES", 200_000)
    assert len(Plan.of(data).spans) > 5 and Plan.of(data).shards > 3
    assert main([*argv, "--processes", "2"]) == whole
    assert capsys.readouterr().out == first
