"""`leadflow import` into a running worker: the history is scored as it happened, and importing the same file
again changes no score (the worker ignores every repeated event id)."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import urllib.request

import pytest

from tests.conftest import API_TOKEN
from tests.leadflow.test_import import rows, write
from tests.processes import leadflow, read_prospect, wait_for_http, wait_until
from tests.topic_reader import read_all

pytestmark = pytest.mark.e2e


def duplicates(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        found = re.search(r"^leadflow_worker_duplicates_total (\S+)$", response.read().decode(), re.M)
    return float(found.group(1)) if found else 0.0


def test_a_second_import_of_the_same_file_changes_no_score(config, tmp_path):
    env = config.as_env()
    path = write(tmp_path / "history.jsonl", rows())
    port = config.worker_metrics_port

    def run_import() -> None:
        done = subprocess.run([sys.executable, "-m", "leadflow", "import", str(path)], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    with leadflow(["worker"], env, tmp_path / "worker.log"):
        assert wait_for_http(f"http://127.0.0.1:{port}/readyz", 60), (tmp_path / "worker.log").read_text()[-2000:]
        run_import()
        won = wait_until(lambda: (p := read_prospect(port, "ada@example.com", API_TOKEN)) and p["stage"] == "won" and p,
                         30)
        assert won, (tmp_path / "worker.log").read_text()[-2000:]
        assert [e["rule"] for e in won["ledger"]][:3] == ["pricing-page", "page-view", "pricing-page"]
        leads = asyncio.run(read_all(config, "leads"))
        assert [r.type for _, r in leads][-1:] == ["lead.updated"] and leads[-1][1].stage == "won"

        run_import()
        assert wait_until(lambda: duplicates(port) >= 6, 30), "the worker never saw the second copy"
        assert read_prospect(port, "ada@example.com", API_TOKEN) == won
        assert read_prospect(port, "grace@example.com", API_TOKEN)["scores"]["total"] == \
            pytest.approx(5 + 15 + 5)  # an open, a senior title, a target country: once
        assert asyncio.run(read_all(config, "leads")) == leads  # no lead event for the repeats
