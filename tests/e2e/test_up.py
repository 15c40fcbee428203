"""`leadflow up` as a user runs it: a fresh data dir, embedded broker and PostgreSQL, Ctrl-C at the end."""

import http.client
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg
import pytest

from leadflow.process import port_is_free
from streams.core.identity import prospect_id_for
from tests.processes import clean_env, post_json, wait_for_row

pytestmark = pytest.mark.e2e


def read_until(proc: subprocess.Popen, pattern: str, timeout_s: float, seen: list[str]) -> re.Match | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return None
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    return None


def stack_dsn(workdir: Path) -> str:
    """The CRM DSN with its password, from the stack file (`up` prints it with the password masked)."""
    return re.search(r"^LEADFLOW_CRM_DSN=(\S+)$", (workdir / ".leadflow" / "stack.env").read_text(), re.M).group(1)


def log_tails(workdir: Path) -> str:
    logs = sorted((workdir / ".leadflow" / "logs").glob("*.log"))
    return "".join(f"\n--- {log.name}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                   for log in logs)


def descendants(proc: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def second_terminal(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """A leadflow command run next to `leadflow up`, in the same directory, by a user who set no LEADFLOW_* variable."""
    env = {k: v for k, v in clean_env().items() if not k.startswith("LEADFLOW_")}
    return subprocess.run([sys.executable, "-m", "leadflow", *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=60)


def test_up_runs_the_stack_promotes_a_lead_and_stops_cleanly(workdir):
    env = clean_env(LEADFLOW_STATUS_SECONDS="1")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "leadflow", "up"], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    seen: list[str] = []
    try:
        broker = read_until(proc, r"embedded broker \(127\.0\.0\.1:(\d+)\) keeps data in memory only", 30, seen)
        assert broker, "".join(seen)
        crm = read_until(proc, r"^crm: (postgresql://\S+:(\d+)/\S+)", 60, seen)
        assert crm, "".join(seen)
        write_key = read_until(proc, r"^write key: (\S+)", 5, seen).group(1)
        assert read_until(proc, r"^ready in", 90 - (time.monotonic() - started), seen), "".join(seen)
        assert time.monotonic() - started < 90
        children = descendants(proc)
        assert len(children) >= 6  # broker, postgres, collector, worker, sink, actions

        base = f"http://127.0.0.1:{env['LEADFLOW_HTTP_PORT']}"
        email = "ada@example.com"
        status, reply = post_json(f"{base}/v1/events", {"batch": [
            {"type": "page", "email": email, "messageId": f"m{n}", "properties": {"url": "https://a.io/pricing"}}
            for n in range(3)
        ]}, write_key)
        assert (status, reply["accepted"]) == (200, 3)
        sent = time.monotonic()
        row = wait_for_row(stack_dsn(workdir), "SELECT stage, score_total FROM crm_leads WHERE prospect_id = %s",
                           (prospect_id_for(email),), 5)
        assert row == ("lead", 63.0), f"no crm_leads row within 5 s; output: {''.join(seen)}{log_tails(workdir)}"
        assert time.monotonic() - sent < 5
        assert (workdir / ".leadflow" / "pgdata" / "PG_VERSION").exists()
        status = read_until(proc, r"^status: inputs .*promoted 1, .*SLA open 1 breached 0 met 0, CRM writes (\d+)", 10,
                            seen)
        assert status and int(status.group(1)) >= 2, "".join(seen[-5:])  # the lead and its SLA clock

        secrets = workdir / ".leadflow" / "secrets.env"
        assert secrets.stat().st_mode & 0o777 == 0o600 and write_key in secrets.read_text()
        # the CRM is not open to other local users: a generated password, kept in secrets.env, no trust
        password = re.search(r"^LEADFLOW_EMBEDDED_PG_PASSWORD=(\S+)$", secrets.read_text(), re.M).group(1)
        assert f"postgres:{password}@127.0.0.1:" in stack_dsn(workdir) and password not in "".join(seen)
        assert "postgres:***@127.0.0.1:" in crm.group(1)  # printed without its password
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(f"postgresql://postgres@127.0.0.1:{crm.group(2)}/leadflow", connect_timeout=3)
        hba = (workdir / ".leadflow" / "pgdata" / "pg_hba.conf").read_text()
        assert not re.search(r"^[^#\n]*\btrust\b", hba, re.M)
        data = workdir / ".leadflow"
        assert data.stat().st_mode & 0o066 == 0 and (data / "logs").stat().st_mode & 0o077 == 0
        leaky = [p for p in [*(data / "logs").iterdir(), *(data / "spool").rglob("*"), data / "stack.env"]
                 if p.stat().st_mode & 0o077]
        assert leaky == [], "readable by other users"
        # a second terminal that set nothing finds the running stack through <data dir>/stack.env
        stack = (workdir / ".leadflow" / "stack.env").read_text()
        assert f"LEADFLOW_CRM_DSN={crm.group(1).replace('***', password)}" in stack
        assert f"LEADFLOW_KAFKA_BOOTSTRAP=127.0.0.1:{broker.group(1)}" in stack and "LEADFLOW_KAFKA_IDEMPOTENCE=false" in stack
        explained = second_terminal(workdir, "explain", email)
        assert explained.returncode == 0 and "stage lead   total 63.00" in explained.stdout, explained.stderr
        # the promotion fired the shipped automation: sales has a task, in crm_tasks and in the outbox
        task = wait_for_row(stack_dsn(workdir), "SELECT kind, queue, title FROM crm_tasks WHERE prospect_id = %s "
                            "AND kind = 'task'", (prospect_id_for(email),), 20)
        assert task == ("task", "inbound-sdr", f"Call {email}"), log_tails(workdir)
        outbox = second_terminal(workdir, "outbox")
        assert outbox.returncode == 0 and "crm_task" in outbox.stdout and f"Call {email}" in outbox.stdout, \
            outbox.stdout + outbox.stderr
        described = second_terminal(workdir, "topics", "describe")
        assert described.returncode == 0 and "leadflow.interactions" in described.stdout, described.stderr
        link = second_terminal(workdir, "link", "--email", email, "--url", "https://example.com/pricing")
        assert link.returncode == 0 and link.stdout.startswith(base), link.stderr
        click = http.client.HTTPConnection("127.0.0.1", int(env["LEADFLOW_HTTP_PORT"]), timeout=5)
        click.request("GET", link.stdout.strip().split(base, 1)[1])
        answer = click.getresponse()
        assert (answer.status, answer.getheader("Location")) == (302, "https://example.com/pricing")
        for log in (workdir / ".leadflow" / "logs").glob("*.log"):
            text = log.read_text(errors="replace")
            assert email not in text and write_key not in text, f"{log.name} leaks personal data or a secret"

        stop_at = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(12) == 0
        assert time.monotonic() - stop_at < 10
        ports = [int(env[k]) for k in ("LEADFLOW_HTTP_PORT", "LEADFLOW_WORKER_METRICS_PORT",
                                       "LEADFLOW_SINK_METRICS_PORT", "LEADFLOW_ACTIONS_METRICS_PORT")] + [int(broker.group(1)), int(crm.group(2))]
        time.sleep(0.5)
        assert [p for p in ports if not port_is_free("127.0.0.1", p)] == []
        assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
        assert not (workdir / ".leadflow" / "stack.env").exists()  # removed on a clean stop
        missing = ("leadflow: no running `leadflow up` under ./.leadflow and LEADFLOW_KAFKA_BOOTSTRAP is not set: "
                   "`leadflow topics describe` needs it (start `leadflow up` or set it)")
        stopped = second_terminal(workdir, "topics", "describe")
        assert (stopped.returncode, stopped.stderr.strip()) == (2, missing)
        (workdir / ".leadflow" / "stack.env").write_text(stack)  # as a `kill -9` of the supervisor leaves it
        stale = second_terminal(workdir, "topics", "describe")
        assert stale.returncode == 2 and stale.stderr.splitlines() == [
            f"leadflow: ignoring .leadflow/stack.env: the `leadflow up` that wrote it (pid {proc.pid}) no longer runs",
            missing]
    finally:
        if proc.poll() is None:
            proc.kill()
            for child in descendants(proc):
                child.kill()


def test_data_survives_a_restart(workdir):
    """The embedded PostgreSQL keeps the CRM under the data dir, and the worker its prospect states: a second `up`
    finds both again (the embedded broker keeps nothing, so the worker refills its changelog from the stores),
    and `explain` agrees with the CRM."""
    for attempt in range(2):
        env = clean_env()
        proc = subprocess.Popen([sys.executable, "-m", "leadflow", "up"], cwd=workdir, env=env, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        seen: list[str] = []
        try:
            crm = read_until(proc, r"^crm: (postgresql://\S+)", 60, seen)
            write_key = read_until(proc, r"^write key: (\S+)", 5, seen).group(1)
            assert crm and read_until(proc, r"^ready in", 90, seen), "".join(seen)
            if attempt == 0:
                post_json(f"http://127.0.0.1:{env['LEADFLOW_HTTP_PORT']}/v1/events", {"batch": [
                    {"type": "page", "email": "kept@example.com", "messageId": f"k{n}",
                     "properties": {"url": "/pricing"}} for n in range(3)]}, write_key)
            row = wait_for_row(stack_dsn(workdir), "SELECT stage FROM crm_leads WHERE email = %s", ("kept@example.com",),
                               10)
            assert row == ("lead",)
            if attempt == 1:
                explained = second_terminal(workdir, "explain", "kept@example.com")
                assert explained.returncode == 0 and "stage lead   total 63.00" in explained.stdout, explained.stderr
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(12) == 0


@pytest.mark.parametrize("extra, expected", [
    ({"CALF_TANSU_BIN": "/nonexistent/tansu"}, "leadflow: cannot start the embedded broker: "),
    ({"LEADFLOW_DATA_DIR": "blocked/data"}, "leadflow: "),
])
def test_a_service_that_cannot_start_gives_a_one_line_reason(workdir, extra, expected):
    (workdir / "blocked").write_text("a file where the data dir should be")
    result = subprocess.run([sys.executable, "-m", "leadflow", "up"], cwd=workdir, env=clean_env(**extra),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(expected), result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_postgres_failing_to_start_gives_a_one_line_reason(workdir):
    env = clean_env()
    pgdata = workdir / ".leadflow" / "pgdata"
    pgdata.mkdir(parents=True)
    (pgdata / "PG_VERSION").write_text("9\n")  # a data dir from an incompatible PostgreSQL
    result = subprocess.run([sys.executable, "-m", "leadflow", "up"], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("leadflow: the embedded PostgreSQL did not start"), result.stderr


def test_invalid_configuration_names_the_setting(workdir):
    result = subprocess.run([sys.executable, "-m", "leadflow", "up", "--http-port", "eighty"], cwd=workdir,
                            env=clean_env(), capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("leadflow: invalid configuration: LEADFLOW_HTTP_PORT:")


def start_up(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "leadflow", "up"], cwd=workdir, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return proc, []


def test_a_crashed_child_is_restarted(workdir):
    env = clean_env()
    proc, seen = start_up(workdir, env)
    try:
        crm = read_until(proc, r"^crm: (postgresql://\S+)", 60, seen)
        write_key = read_until(proc, r"^write key: (\S+)", 5, seen).group(1)
        assert crm and read_until(proc, r"^ready in", 90, seen), "".join(seen)
        [worker] = [c for c in descendants(proc) if c.cmdline()[-1:] == ["worker"]]
        worker.kill()
        assert read_until(proc, r"warning: worker exited with code -9; restarting", 10, seen), "".join(seen)
        status, _ = post_json(f"http://127.0.0.1:{env['LEADFLOW_HTTP_PORT']}/v1/events", {"batch": [
            {"type": "page", "email": "after@example.com", "messageId": f"a{n}", "properties": {"url": "/pricing"}}
            for n in range(3)]}, write_key)
        assert status == 200
        assert wait_for_row(stack_dsn(workdir), "SELECT stage FROM crm_leads WHERE email = %s", ("after@example.com",),
                            30) == ("lead",)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(12) == 0


def test_a_child_that_keeps_crashing_stops_the_stack_with_a_clear_message(workdir):
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    env = clean_env(LEADFLOW_SINK_METRICS_PORT=str(blocker.getsockname()[1]))
    proc, seen = start_up(workdir, env)
    try:
        match = read_until(proc, r"^error: sink crashed 6 times", 60, seen)
        assert match, "".join(seen)
        assert "Address already in use" in seen[-1] and "sink.log" in seen[-1]
        assert proc.wait(15) == 1
    finally:
        blocker.close()
        if proc.poll() is None:
            proc.kill()


def test_a_broken_scoring_model_is_reported_before_anything_starts(workdir):
    model = workdir / "model.yaml"
    model.write_text("version: x\nthresholds: {promote: 10}\nrules:\n  - id: a\n    when: {type: page.view}\n"
                     "    points: 1\n")
    result = subprocess.run([sys.executable, "-m", "leadflow", "up"], cwd=workdir,
                            env=clean_env(LEADFLOW_MODEL=str(model)), capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"leadflow: {model}:5: rule 'a': unknown interaction type 'page.view'")


def test_repeated_signals_still_stop_the_stack(workdir):
    """Impatient users press Ctrl-C several times; the supervisor must not deadlock in its signal handler."""
    proc, seen = start_up(workdir, clean_env())
    try:
        assert read_until(proc, r"^ready in", 90, seen), "".join(seen)
        for sig in (signal.SIGINT, signal.SIGTERM) * 5:
            proc.send_signal(sig)
            time.sleep(0.01)
        assert proc.wait(12) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
