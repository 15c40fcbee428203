"""`leadflow backtest` and `leadflow tune` without --data: the retained histories read from the worker's state
changelog on the real broker (the worker's own codec; the newest state per key; aliases left out), as a user runs
them on a live stack."""

import asyncio

import pytest

from leadflow.cli import main
from leadflow.config import DEFAULT_MODEL
from streams.core.backtest import default_thresholds, report, tally
from streams.core.model import load_model
from streams.core.prospect import ProspectState, apply
from streams.state_codec import dump_state
from tests.leadflow.test_stage import produce
from tests.streams.core.sales_history import history

pytestmark = pytest.mark.integration
PROSPECTS = 400  # of leadflow synthetic's history (seed 1): enough for leads, judged and unknown ones


def worker_states(model):
    """Each prospect's state after the worker's core applied its inputs in order (what the changelog holds)."""
    states = {}
    for key, inputs in history(PROSPECTS):
        state = ProspectState(key, model_version=model.version)
        for record in inputs:
            apply(state, record, model)
        states[key] = state
    return states


@pytest.fixture
def changelog(config, monkeypatch, tmp_path):
    """The worker states on this test's changelog, with an older state of one key before its newest, an alias
    state and a deleted key (neither is a prospect); the environment a user's shell would have."""
    model = load_model(DEFAULT_MODEL)
    states = worker_states(model)
    first = next(iter(states))
    stale = ProspectState(first, model_version=model.version)
    alias = ProspectState("anon:visitor-1", model_version=model.version)
    alias.alias_of = first
    records = [(first, dump_state(stale)), *[(key, dump_state(state)) for key, state in states.items()],
               ("anon:visitor-1", dump_state(alias)), ("p_deleted", dump_state(stale)), ("p_deleted", None)]
    asyncio.run(produce(config, "prospect-state", [(key.encode(), value) for key, value in records]))
    for name, value in config.as_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.yaml").write_text(DEFAULT_MODEL.read_text())
    return model, states


def test_backtest_reads_the_changelog_and_counts_what_a_replay_of_the_same_histories_counts(changelog, capsys):
    model, states = changelog
    expected = report(tally([(key, list(states[key].history)) for key in sorted(states)], model,
                            default_thresholds(model)), model).row_at(50)
    assert expected.leads > expected.judged > expected.rejected > expected.won > 0 and expected.unknown > 0
    assert main(["backtest", "--model", "model.yaml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"backtest of model default-4 (threshold 50) over {PROSPECTS} prospects, ")
    line = next(line.split() for line in out.splitlines() if line.startswith("*50 "))
    figures = [int(v.replace(",", "")) for v in line[1:8]]
    assert figures == [expected.leads, expected.judged, expected.accepted, expected.rejected, expected.won,
                       expected.open, expected.unknown]
    assert line[8] == f"{expected.reject_rate:.1%}" and line[9] == f"{expected.won_value:,.0f}"


def test_tune_reads_the_changelog_and_says_how_much_more_it_needs(changelog, capsys, tmp_path):
    assert main(["tune", "--model", "model.yaml", "--min-leads", "5"]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"tune: model default-4 over {PROSPECTS} prospects (")
    assert "\nrefusing to propose a model: the held-out period holds " in out
    assert not list(tmp_path.glob("*tuned.yaml"))
