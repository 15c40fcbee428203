"""`leadflow backtest` and `leadflow tune` as a user runs them on a history file: exit codes, what they print, the
HTML report and the candidate model; the worker processes give what one process gives.

The history file reader (``leadflow.history_file``, `leadflow import`) comes from another branch of issue 17: until
it lands these tests stand in a reader of their own for it (``read_history(path) -> (line, record)``).
"""

import pickle
import sys
import types

import pytest

from leadflow.cli import main
from leadflow.replay_pool import Progress, ShardPool, backtest, chunked, decode, encode, extract_all
from streams.core.backtest import Window, default_thresholds, report, tally
from streams.core.model import load_model
from streams.core.tuning_data import space
from tests.streams.core.sales_history import MODEL, MODEL_TEXT, history

HTML_HOSTILE = "t<b>&amp;"


@pytest.fixture
def user(monkeypatch, tmp_path):
    """A user in a fresh directory with no LEADFLOW_* variable, and the stand-in history file reader."""
    import os

    for name in [n for n in os.environ if n.startswith("LEADFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)

    def read_history(path, rules=None, on_error=None):
        with open(path, "rb") as file:
            yield from enumerate(pickle.load(file), start=1)

    monkeypatch.setitem(sys.modules, "leadflow.history_file", types.SimpleNamespace(read_history=read_history))
    return tmp_path


def data_file(directory, prospects, seed=7, name="history.pkl"):
    """A history file of ``prospects`` people, rows shuffled across prospects as an export gives them."""
    rows = [record for _, inputs in history(prospects, seed) for record in inputs]
    rows.sort(key=lambda r: r.event_id[::-1])
    (directory / name).write_bytes(pickle.dumps(rows))
    (directory / "model.yaml").write_text(MODEL_TEXT.replace("version: truth-1", f'version: "{HTML_HOSTILE}"'))
    return str(directory / name)


def test_backtest_prints_the_sweep_and_the_rules_and_writes_the_report(user, capsys):
    data = data_file(user, 600)
    assert main(["backtest", "--model", "model.yaml", "--data", data, "--html", "report.html",
                 "--thresholds", "40,60", "--since", "2025-03-01"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"backtest of model {HTML_HOSTILE} (threshold 50) over 600 prospects, ")
    assert out[0].endswith("; promotions from 2025-03-01 to the end")
    assert out[2].split() == ["threshold", "leads", "judged", "accepted", "rejected", "won", "open", "unknown",
                              "reject", "rate", "won", "value", "value/lead", "median", "to", "promotion"]
    assert [line.split()[0] for line in out[4:7]] == ["40", "*50", "60"]
    assert any(line.startswith("newsletter-open") and line.endswith("consider a cap or once: true") for line in out)
    page = (user / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3 and "<script" not in page
    assert "t&lt;b&gt;&amp;amp;" in page and HTML_HOSTILE not in page


def test_tune_writes_a_candidate_the_model_loader_takes_and_prints_the_diff(user, capsys):
    data = data_file(user, 3000)
    argv = ["tune", "--model", "model.yaml", "--data", data, "--min-leads", "105", "--per", "month",
            "--freeze", "bounce", "--out", "candidate.yaml", "--html", "tune.html"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"tune: model {HTML_HOSTILE} over 3,000 prospects (")
    for heading in ("in-sample: 2025-01-01 to ", "held-out: ", "points"):
        assert f"\n{heading}" in out
    assert "\ncandidate proposed: held-out reject rate " in out
    assert "\ncandidate written to candidate.yaml; preview the stage changes with: leadflow rescore --model " \
           "candidate.yaml\n--- model.yaml\n+++ candidate.yaml\n" in out
    assert "stage 1: pass 1, " in err and "stage 2: pass 1, " in err
    candidate = load_model(user / "candidate.yaml")
    assert candidate.version.startswith(f"{HTML_HOSTILE}-tuned-2026")
    assert {r.id: r.points for r in candidate.rules}["bounce"] == -10
    page = (user / "tune.html").read_text()
    assert page.count("<svg") == 5 and "Points per rule" in page and "tuned: 10 -&gt; 5" in page
    first = (user / "candidate.yaml").read_text()
    assert main(argv) == 0
    assert (user / "candidate.yaml").read_text() == first  # the same data: the same candidate


def test_tune_refuses_on_too_little_history_and_writes_nothing(user, capsys):
    data = data_file(user, 100, seed=3)
    assert main(["tune", "--model", "model.yaml", "--data", data, "--min-leads", "5", "--html", "tune.html"]) == 1
    out = capsys.readouterr().out
    assert "\nrefusing to propose a model: the held-out period holds 12 judged leads and 9 won deals under the " \
           "current model; the rule is at least 30 judged leads and 5 won deals there: 18 more judged leads needed" \
           in out
    assert not list(user.glob("*tuned.yaml")) and "<svg" in (user / "tune.html").read_text()


@pytest.mark.parametrize("argv, message", [
    (["tune", "--min-leads", "5", "--freeze", "nope"], "--freeze nope: the model has no such rule; its rules: "),
    (["tune", "--min-leads", "5", "--max-change", "lots"], "--max-change must be a percentage such as 50%, got 'lots'"),
    (["tune", "--min-leads", "5", "--holdout", "3 weeks"], "--holdout: '3 weeks' is not a duration"),
    (["backtest", "--since", "yesterday"], "--since must be a date such as 2026-01-31 (UTC)"),
    (["backtest", "--thresholds", "40,x"], "--thresholds must be numbers separated by commas, got '40,x'"),
])
def test_usage_errors_are_one_line_and_exit_2(user, capsys, argv, message):
    data = data_file(user, 20)
    assert main([*argv, "--model", "model.yaml", "--data", data]) == 2
    assert capsys.readouterr().err.startswith(f"leadflow: {message}")


def test_without_a_history_file_it_reads_the_changelog_and_says_what_it_needs(user, capsys, monkeypatch):
    data_file(user, 5)
    assert main(["backtest", "--model", "model.yaml"]) == 2
    assert capsys.readouterr().err.strip() == (
        "leadflow: no running `leadflow up` under ./.leadflow and LEADFLOW_KAFKA_BOOTSTRAP is not set: `leadflow "
        "backtest` needs it (start `leadflow up` or set it)")
    monkeypatch.setitem(sys.modules, "leadflow.history_file", None)  # a build without `leadflow import`
    assert main(["tune", "--model", "model.yaml", "--data", "x.jsonl", "--min-leads", "1"]) == 2
    assert "--data needs leadflow/history_file.py" in capsys.readouterr().err


def test_two_processes_give_what_one_gives():
    histories = history(900, seed=11)
    thresholds = default_thresholds(MODEL)
    alone = report(tally(histories, MODEL, thresholds), MODEL)
    pooled = backtest(chunked(histories, 200), MODEL_TEXT, "truth.yaml", MODEL, thresholds, Window(), 2,
                      Progress("backtest", len(histories)))
    assert report(pooled, MODEL) == alone
    bounds = space(MODEL)
    extracted = extract_all(chunked(histories, 200), MODEL_TEXT, "truth.yaml", bounds, 2)
    here = extract_all(chunked(histories, 200), MODEL_TEXT, "truth.yaml", bounds, 1)
    assert extracted.prospects == here.prospects and extracted.count == 900
    vectors = [bounds.current, bounds.current[:1] + (6.0,) + bounds.current[2:]]
    with ShardPool(extracted.prospects, bounds.grid, extracted.last_at - 5_000_000_000, 2, least=100) as two:
        assert len(two.processes) == 2
        with ShardPool(here.prospects, bounds.grid, extracted.last_at - 5_000_000_000, 1) as one:
            assert two.evaluate(vectors) == one.evaluate(vectors)
            edges = (0.0, 25.0, 50.0, 75.0, 100.0)
            assert two.histograms(bounds.current, edges) == one.histograms(bounds.current, edges)


def test_histories_travel_to_the_workers_as_they_are():
    histories = history(30, seed=2)
    assert decode(encode(histories)) == [(key, list(inputs)) for key, inputs in histories]
