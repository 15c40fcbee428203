"""`leadflow demo` as a newcomer runs it: within a minute, leads in the CRM, an SLA met, one breached and
escalated, a lead recycled, progress while it runs and a summary at the end."""

import re
import subprocess
import sys
import time

import pytest

from tests.processes import clean_env

pytestmark = pytest.mark.e2e


def test_the_demo_shows_every_outcome_within_a_minute(workdir):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "leadflow", "demo", "--prospects", "10"], cwd=workdir,
                            env=clean_env(LEADFLOW_STATUS_SECONDS="5"), capture_output=True, text=True, timeout=150)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert time.monotonic() - started < 90, output
    assert "status: inputs" in output and "sending journeys:" in output  # progress while it runs
    summary = output[output.index("demo finished in"):]
    assert "not seen in time" not in summary and "refused" not in summary, summary
    journeys = summary[:summary.index("\noutbox (")]
    rows = {line.split()[0]: line for line in journeys.splitlines() if line.startswith("  ") and "@" in line}
    assert set(rows) == {"champion", "unanswered", "disqualified", "nurture", "bounced", "unsubscriber"}
    assert " won " in rows["champion"] and " met " in rows["champion"]
    assert "breached +2 esc" in rows["unanswered"] and "senior-sdr" in rows["unanswered"]
    assert " nurture " in rows["disqualified"]
    assert "never sent to the CRM" in rows["bounced"] and "never sent to the CRM" in rows["unsubscriber"]
    # what the automations produced, as the action delivery wrote it to the outbox: nurture emails, sales notifications
    outbox = next(line for line in summary.splitlines() if line.startswith("outbox ("))
    assert re.search(r"\d+ emails", outbox) and re.search(r"\d+ notifications", outbox), outbox
    assert re.search(r"^  email +\S+@\S+ +Welcome to Example", summary, re.M), summary
    assert re.search(r"^  notify +.*(sales-ready|response deadline)", summary, re.M), summary
    assert not (workdir / ".leadflow" / "pgdata").exists(), "the demo must not touch `leadflow up`'s data"
    assert (workdir / ".leadflow" / "demo" / "model.yaml").exists()
