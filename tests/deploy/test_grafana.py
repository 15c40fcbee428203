"""The Grafana dashboards: well-formed, and every panel's query answered by a real Prometheus scraping a real stack.

A panel that asks for a metric no leadflow process exports fails here, with the panel named.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

from connectors.crm.migrations import migrate
from leadflow.config import DEFAULT_AUTOMATIONS
from leadflow.process import free_ports
from streams.core.automation_file import load_automations
from streams.core.automation_model import ACTION_TYPES, SUPPRESSION_REASONS
from streams.core.identity import prospect_id_for
from tests.conftest import CRM_TOKEN, WRITE_KEY
from tests.deploy.exported import exported_names, metric_names
from tests.processes import leadflow, post_json, wait_for_http, wait_for_row

GRAFANA = Path(__file__).resolve().parents[2] / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
GRAFANA_VARIABLES = {"$__range": "10m", "$__rate_interval": "1m", "$__interval": "15s"}


def panels() -> list[tuple[str, dict]]:
    return [(path.stem, panel) for path in DASHBOARDS for panel in json.loads(path.read_text())["panels"]]


WEBHOOK_ONLY = "only with LEADFLOW_SINK_TARGET=webhook"  # a panel's description: series exist only with that target


def queries(live: bool = False) -> list[tuple[str, str]]:
    """(dashboard / panel, PromQL with Grafana's variables filled in) for every target of every panel; ``live``:
    only the panels a stack with the default PostgreSQL target has series for (the others are checked against
    what the code registers)."""
    found = []
    for dashboard, panel in panels():
        if live and WEBHOOK_ONLY in panel.get("description", ""):
            continue
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            found.append((f"{dashboard} / {panel['title']}", expr))
    return found


def test_the_five_dashboards_are_provisioned_and_well_formed() -> None:
    assert [p.stem for p in DASHBOARDS] == ["automations", "leadflow-funnel", "leadflow-overview", "leadflow-sink",
                                            "leadflow-sla"]
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "leadflow.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards/leadflow"
    uids = set()
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        assert dashboard["uid"] == path.stem and dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids)), path.name
        for panel in dashboard["panels"]:
            where = f"{path.stem} / {panel['title']}"
            assert panel["datasource"]["uid"] == uid, where
            assert panel["targets"] and all(t["datasource"]["uid"] == uid for t in panel["targets"]), where
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, where
    exported = exported_names()
    for where, expr in queries():
        unknown = metric_names(expr) - exported
        assert metric_names(expr) and not unknown, f"{where}: {sorted(unknown)} is not exported by leadflow"


def _prometheus_config(path: Path, ports: dict[str, int]) -> None:
    path.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": f"leadflow-{name}", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
                           for name, port in ports.items()],
    }))


def _query(base: str, expr: str) -> dict:
    url = f"{base}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())


def _value(base: str, expr: str) -> float:
    result = _query(base, expr)["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


@pytest.mark.e2e
def test_every_panel_query_is_answered_by_prometheus_scraping_a_running_stack(config, tmp_path) -> None:
    prometheus_bin = shutil.which("prometheus")
    assert prometheus_bin, "the Debian prometheus package is missing (make test installs it)"
    migrate(config.crm_dsn)
    config = config.with_changes(automations_path=DEFAULT_AUTOMATIONS)  # the programs' series exist per program
    env = config.as_env()
    base = f"http://127.0.0.1:{config.http_port}"
    (prom_port,) = free_ports(1)
    prom = f"http://127.0.0.1:{prom_port}"
    _prometheus_config(tmp_path / "prometheus.yml", {"collector": config.http_port,
                                                      "worker": config.worker_metrics_port,
                                                      "sink": config.sink_metrics_port,
                                                      "actions": config.actions_metrics_port})
    with leadflow(["collector"], env, tmp_path / "collector.log"), leadflow(["worker"], env, tmp_path / "worker.log"), \
            leadflow(["sink"], env, tmp_path / "sink.log"), leadflow(["actions"], env, tmp_path / "actions.log"), \
            open(tmp_path / "prometheus.log", "wb") as prom_log:
        server = subprocess.Popen([prometheus_bin, f"--config.file={tmp_path / 'prometheus.yml'}",
                                   f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{prom_port}"],
                                  stdout=prom_log, stderr=subprocess.STDOUT)
        try:
            assert wait_for_http(f"{base}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
            assert wait_for_http(f"{prom}/-/ready", 30), (tmp_path / "prometheus.log").read_text()[-2000:]
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and _value(prom, 'sum(up{job=~"leadflow-.*"})') < 4:
                time.sleep(0.5)
            assert _value(prom, 'sum(up{job=~"leadflow-.*"})') == 4, "Prometheus does not scrape all four services"
            time.sleep(2)  # the counters' zero samples first, so increases count what follows
            email = "ada@example.com"
            status, _ = post_json(f"{base}/v1/events", {"batch": [
                {"type": "track", "email": email, "event": "form.submitted", "messageId": "f1",
                 "properties": {"form_id": "demo-request"}},
                {"type": "page", "email": email, "messageId": "p1", "properties": {"url": "https://a.io/pricing"}},
                {"type": "page", "messageId": "bad", "properties": {"url": "https://a.io/"}},  # no identity
            ]}, WRITE_KEY)
            assert status == 200
            pid = prospect_id_for(email)
            assert wait_for_row(config.crm_dsn, "SELECT 1 FROM crm_leads WHERE prospect_id = %s", (pid,), 30)
            for n, verdict in enumerate(("accepted", "won")):
                status, _ = post_json(f"{base}/v1/crm/feedback", {"prospect_id": pid, "verdict": verdict,
                                                                  "occurred_at": int(time.time() * 1000) + n,
                                                                  "deal_value": 1200.0}, CRM_TOKEN)
                assert status == 202
            assert wait_for_row(config.crm_dsn, "SELECT 1 FROM crm_leads WHERE prospect_id = %s AND stage = 'won'",
                                (pid,), 30)

            time.sleep(4)  # a few scrapes after the verdicts, so rates and increases see them
            with urllib.request.urlopen(f"{prom}/api/v1/label/__name__/values", timeout=10) as response:
                exported = set(json.loads(response.read())["data"])

            for where, expr in queries(live=True):
                missing = metric_names(expr) - exported
                assert not missing, f"{where}: {sorted(missing)} not exported by any leadflow process"
                reply = _query(prom, expr)
                assert reply["status"] == "success", f"{where}: {reply.get('error')}"

            funnel = _value(prom, 'sum(increase(leadflow_worker_lead_events_total{type="lead.promoted"}[10m]))')
            won = _value(prom, 'sum(increase(leadflow_worker_events_processed_total{type="crm.won"}[10m]))')
            assert funnel > 0 and won > 0
            assert _value(prom, 'sum(leadflow_consumer_lag_records{group=~".*-worker"})') == 0
            assert _value(prom, "count(leadflow_consumer_lag_records)") >= 3
            # the automation series exist at 0 before anything happens: every action type and suppression reason,
            # and each program of the automation file (its enrollments, completed and exhausted exits)
            assert _value(prom, "count(leadflow_automation_actions_total)") == len(ACTION_TYPES)
            assert _value(prom, "count(leadflow_automation_actions_suppressed_total)") == len(SUPPRESSION_REASONS)
            programs = {p.id for p in load_automations(DEFAULT_AUTOMATIONS).programs}
            assert programs and _value(prom, "count(leadflow_automation_enrollments_total)") == len(programs)
            assert _value(prom, 'count(leadflow_automation_exits_total{outcome=~"completed|exhausted"})') == \
                2 * len(programs)
        finally:
            server.terminate()
            server.wait(15)
