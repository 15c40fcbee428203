"""`leadflow backtest` and `leadflow tune` as a user runs them on a history file (the format `leadflow import`
reads): exit codes, what they print, the HTML report and the candidate model; the worker processes give what one
process gives."""

import os

import orjson
import pytest

from leadflow.cli import main
from leadflow.replay_pool import Progress, ShardPool, backtest, chunked, decode, encode, extract_all
from streams.core.backtest import Window, default_thresholds, report, tally
from streams.core.model import load_model
from streams.core.tuning_data import space
from leadflow.synthetic_file import write_history
from leadflow.synthetic_history import Settings
from tests.streams.core.sales_history import MODEL, MODEL_TEXT, history

HTML_HOSTILE = "t<b>&amp;"


@pytest.fixture
def user(monkeypatch, tmp_path):
    """A user in a fresh directory with no LEADFLOW_* variable."""
    for name in [n for n in os.environ if n.startswith("LEADFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def data_file(directory, prospects, seed=1, name="history.jsonl"):
    """`leadflow synthetic`'s history of ``prospects`` people, rows shuffled across prospects as an export gives
    them, and the shipped model (whose leads that history's sales judged) as model.yaml."""
    write_history(directory / name, Settings(prospects, seed))
    rows = (directory / name).read_bytes().splitlines()
    rows.sort(key=lambda line: orjson.loads(line)["event_id"][::-1])
    (directory / name).write_bytes(b"\n".join(rows) + b"\n")
    (directory / "model.yaml").write_text(MODEL_TEXT.replace('version: "default-4"', f'version: "{HTML_HOSTILE}"'))
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
    assert any(line.startswith("email-open") and line.endswith("consider a cap or once: true") for line in out)
    page = (user / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("<svg") == 3 and "<script" not in page
    assert "t&lt;b&gt;&amp;amp;" in page and HTML_HOSTILE not in page


def test_tune_writes_a_candidate_the_model_loader_takes_and_prints_the_diff(user, capsys):
    data = data_file(user, 3000)
    argv = ["tune", "--model", "model.yaml", "--data", data, "--min-leads", "25", "--per", "month",
            "--freeze", "email-bounce", "--out", "candidate.yaml", "--html", "tune.html"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"tune: model {HTML_HOSTILE} over 3,000 prospects (")
    for heading in ("in-sample: 2024-12-31 to ", "held-out: ", "points"):
        assert f"\n{heading}" in out
    assert "\ncandidate proposed: held-out reject rate " in out
    assert "\ncandidate written to candidate.yaml; preview the stage changes with: leadflow rescore --model " \
           "candidate.yaml\n--- model.yaml\n+++ candidate.yaml\n" in out
    assert "stage 1: pass 1, " in err and "stage 2: pass 1, " in err
    candidate = load_model(user / "candidate.yaml")
    assert candidate.version.startswith(f"{HTML_HOSTILE}-tuned-2025")
    assert {r.id: r.points for r in candidate.rules}["email-bounce"] == -10
    page = (user / "tune.html").read_text()
    assert page.count("<svg") == 5 and "Points per rule" in page and "tuned: 10 -&gt; 5" in page
    first = (user / "candidate.yaml").read_text()
    assert main(argv) == 0
    assert (user / "candidate.yaml").read_text() == first  # the same data: the same candidate


def test_tune_refuses_on_too_little_history_and_writes_nothing(user, capsys):
    data = data_file(user, 500, seed=3)
    assert main(["tune", "--model", "model.yaml", "--data", data, "--min-leads", "5", "--html", "tune.html"]) == 1
    out = capsys.readouterr().out
    assert "\nrefusing to propose a model: the held-out period holds 11 judged leads and 2 won deals under the " \
           "current model; the rule is at least 30 judged leads and 5 won deals there: 19 more judged leads and 3 " \
           "more won deals needed (about 6 more months of outcomes at its pace)" in out
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


def test_without_a_history_file_it_reads_the_changelog_and_says_what_it_needs(user, capsys):
    data_file(user, 5)
    assert main(["backtest", "--model", "model.yaml"]) == 2
    assert capsys.readouterr().err.strip() == (
        "leadflow: no running `leadflow up` under ./.leadflow and LEADFLOW_KAFKA_BOOTSTRAP is not set: `leadflow "
        "backtest` needs it (start `leadflow up` or set it)")


def test_a_bad_row_stops_it_with_the_file_and_line(user, capsys):
    data = data_file(user, 5)
    with open(data, "ab") as file:
        file.write(b'{"kind": "visit", "occurred_at": 1, "email": "a@x.io"}\n')
    lines = len(open(data).readlines())
    assert main(["tune", "--model", "model.yaml", "--data", data, "--min-leads", "1"]) == 2
    assert capsys.readouterr().err.strip() == \
        f"leadflow: {data}:{lines}: unknown kind 'visit'; expected interaction or outcome"


def test_backtest_reads_what_leadflow_synthetic_writes(user, capsys):
    assert main(["synthetic", "--prospects", "300", "--seed", "2", "synthetic.jsonl"]) == 0
    capsys.readouterr()
    assert main(["backtest", "--data", "synthetic.jsonl"]) == 0  # under the shipped model, as the file's sales saw
    out = capsys.readouterr().out
    assert out.startswith("backtest of model default-") and " over 300 prospects, " in out
    judged = [line.split() for line in out.splitlines() if line.startswith("*")][0][2]
    assert int(judged.replace(",", "")) > 0


def test_two_processes_give_what_one_gives():
    histories = history(900, seed=11)
    thresholds = default_thresholds(MODEL)
    alone = report(tally(histories, MODEL, thresholds), MODEL)
    pooled = backtest(chunked(histories, 200), MODEL_TEXT, "default.yaml", MODEL, thresholds, Window(), 2,
                      Progress("backtest", len(histories)))
    assert report(pooled, MODEL) == alone
    bounds = space(MODEL)
    extracted = extract_all(chunked(histories, 200), MODEL_TEXT, "default.yaml", bounds, 2)
    here = extract_all(chunked(histories, 200), MODEL_TEXT, "default.yaml", bounds, 1)
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
