"""`leadflow import`: the whole file is checked first and any bad row refuses it; a good file lands on the input
topics in canonical order, and importing it twice repeats every id, which the worker's core ignores."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leadflow.cli import main
from leadflow.config import DEFAULT_MODEL
from leadflow.history_file import read_history
from leadflow.history_import import canonical
from schemas.records import CrmFeedback, Interaction
from streams.core.history import canonical_order
from streams.core.identity import prospect_id_for
from streams.core.model import load_model
from streams.core.prospect import ProspectState, apply, scores
from tests.topic_reader import read_all

ADA, GRACE = prospect_id_for("ada@example.com"), prospect_id_for("grace@example.com")
DAY = 86_400_000


def rows() -> list[dict]:
    """Two prospects' history, newest first (an export sorted the other way): Ada is promoted and won."""
    out = []
    for n in range(3):
        out.append({"kind": "interaction", "occurred_at": f"2025-05-0{n + 1}T10:00:00Z", "email": "ada@example.com",
                    "type": "page.viewed", "url": "https://a.io/pricing"})
    out.append({"kind": "interaction", "occurred_at": "2025-05-01T09:00:00Z", "email": "Grace@Example.com",
                "event": "Email Opened", "campaign": "newsletter", "traits": {"title": "CTO", "country": "US"}})
    out.append({"kind": "outcome", "occurred_at": "2025-05-10T12:00:00Z", "email": "ada@example.com",
                "verdict": "accepted", "owner": "sam"})
    out.append({"kind": "outcome", "event_id": "opp-1/won", "occurred_at": "2025-06-10T12:00:00Z",
                "email": "ada@example.com", "verdict": "won", "deal_value": 12000})
    return out[::-1]


def write(path: Path, items: list) -> Path:
    path.write_text("".join((item if isinstance(item, str) else json.dumps(item)) + "\n" for item in items))
    return path


def leadflow(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}
    return subprocess.run([sys.executable, "-m", "leadflow", *args], env={**clean, **env}, capture_output=True,
                          text=True, timeout=120)


def published(config) -> tuple[list, list]:
    return asyncio.run(read_all(config, "interactions")), asyncio.run(read_all(config, "crm-feedback"))


@pytest.mark.integration
def test_import_publishes_in_canonical_order_and_a_second_import_changes_no_score(config, tmp_path):
    path = write(tmp_path / "history.jsonl", rows())
    before = time.time_ns() // 1_000_000
    first = leadflow(["import", str(path)], config.as_env())
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout.splitlines() == [
        f"imported {path}: 4 interactions and 2 outcomes of 2 prospects, from 2025-05-01 09:00 UTC to "
        "2025-06-10 12:00 UTC",
        first.stdout.splitlines()[1]]
    assert first.stdout.splitlines()[1].startswith(f"  4 records to {config.topic('interactions')}, 2 records to "
                                                   f"{config.topic('crm-feedback')} in ")
    interactions, verdicts = published(config)
    assert sorted({key for key, _ in interactions}) == sorted([ADA.encode(), GRACE.encode()])
    assert {key for key, _ in verdicts} == {ADA.encode()}
    for records in ([r for k, r in interactions if k == ADA.encode()], [r for _, r in verdicts]):
        assert records == canonical_order(records) and len(records) in (2, 3)  # per key: as it happened
    assert all(r.source == "import" for _, r in interactions)  # (a CrmFeedback has no source)
    assert all(r.received_at >= before for _, r in interactions + verdicts)  # late inputs: they fire no automation
    assert [r.event_id for _, r in verdicts][1] == "opp-1/won"
    grace = next(r for k, r in interactions if k == GRACE.encode())
    assert (grace.type, grace.email, grace.traits["job_title"]) == ("email.opened", "grace@example.com", "CTO")

    again = leadflow(["import", str(path)], config.as_env())
    assert again.returncode == 0, again.stderr
    interactions_twice, verdicts_twice = published(config)
    assert sorted(r.event_id for _, r in interactions_twice) == sorted([r.event_id for _, r in interactions] * 2)
    assert sorted(r.event_id for _, r in verdicts_twice) == sorted([r.event_id for _, r in verdicts] * 2)

    # the worker's core: the second copy of every input changes nothing, so every score is as after one import
    model = load_model(DEFAULT_MODEL)
    once: dict[bytes, ProspectState] = {}
    twice: dict[bytes, ProspectState] = {}
    ignored = 0
    for states, records in ((once, interactions + verdicts), (twice, interactions_twice + verdicts_twice)):
        seen: set[str] = set()
        for key, record in records:
            state = states.setdefault(key, ProspectState(key.decode(), model_version=model.version))
            outcome = apply(state, record, model)
            if record.event_id in seen:
                assert not outcome.changed and outcome.effects == ()
                ignored += 1
            seen.add(record.event_id)
    assert ignored == 6
    assert {k: (scores(s, model).total, s.stage) for k, s in twice.items()} == \
        {k: (scores(s, model).total, s.stage) for k, s in once.items()}
    assert (once[ADA.encode()].stage, once[GRACE.encode()].stage) == ("won", "name")


@pytest.mark.integration
def test_a_bad_row_refuses_the_whole_file_and_skip_bad_imports_the_good_ones(config, tmp_path):
    bad = {"kind": "interaction", "occurred_at": "2025-05-01T10:00:00", "email": "ada@example.com",
           "type": "page.viewed"}
    path = write(tmp_path / "history.jsonl", [*rows(), *[bad] * 25, "{broken"])
    refused = leadflow(["import", str(path)], config.as_env())
    assert refused.returncode == 2
    lines = refused.stderr.splitlines()
    assert lines[0] == (f"leadflow: {path}:7: occurred_at '2025-05-01T10:00:00' has no time zone (add Z or an offset "
                        "like +02:00)")
    assert len(lines) == 21 and all(line.startswith(f"leadflow: {path}:") for line in lines)
    assert lines[-1] == (f"leadflow: {path}: 26 bad rows (the first 20 above): nothing imported (fix them, or pass "
                         "--skip-bad to import the good rows)")
    assert published(config) == ([], [])  # never half a history

    skipped = leadflow(["import", "--skip-bad", str(path)], config.as_env())
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.startswith(f"imported {path}: 4 interactions and 2 outcomes of 2 prospects, from ")
    assert "; skipped 26 bad rows (the first 20 above)" in skipped.stdout.splitlines()[0]
    assert skipped.stderr.splitlines()[:1] == lines[:1]
    interactions, verdicts = published(config)
    assert (len(interactions), len(verdicts)) == (4, 2)


def test_dry_run_checks_the_file_and_needs_no_kafka(tmp_path, monkeypatch, capsys):
    for name in [n for n in os.environ if n.startswith("LEADFLOW_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path / "history.jsonl", rows())
    assert main(["import", "--dry-run", str(path)]) == 0
    assert capsys.readouterr().out == (f"{path}: would import 4 interactions and 2 outcomes of 2 prospects, from "
                                       "2025-05-01 09:00 UTC to 2025-06-10 12:00 UTC (--dry-run: nothing "
                                       "published)\n")
    write(path, [*rows(), {"kind": "visit"}])
    assert main(["import", "--dry-run", str(path)]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"leadflow: {path}:7: unknown kind 'visit'; expected interaction or outcome",
        f"leadflow: {path}: 1 bad row: nothing imported (fix them, or pass --skip-bad to import the good rows)"]
    assert main(["import", str(path)]) == 2  # a real import needs Kafka
    assert "LEADFLOW_KAFKA_BOOTSTRAP is not set: `leadflow import` needs it" in capsys.readouterr().err


def test_an_unreadable_file_is_one_line_and_nothing_more(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["import", "--dry-run", str(tmp_path / "history.xlsx")]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"leadflow: {tmp_path / 'history.xlsx'}: unknown format: the name must end in .jsonl, .csv, .jsonl.gz, "
        ".csv.gz", f"leadflow: {tmp_path / 'history.xlsx'}: nothing imported"]


def test_canonical_order_holds_for_a_file_larger_than_memory_allows(tmp_path):
    """Runs of three spilled to disk and merged: the same order as sorting everything at once."""
    items = []
    for n in range(20):
        items.append({"kind": "interaction", "event_id": f"e{n % 7}-{n}", "email": f"p{n % 4}@example.com",
                      "occurred_at": 1_740_000_000_000 + (n * 7919) % 11 * DAY, "type": "page.viewed"})
    records = [r for _, r in read_history(write(tmp_path / "h.jsonl", items))]
    assert list(canonical(iter(records), run=3)) == canonical_order(records) != records
    assert list(canonical(iter(records), run=100)) == canonical_order(records)
    assert all(type(r) in (Interaction, CrmFeedback) for r in canonical(iter(records), run=3))
