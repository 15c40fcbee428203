"""The alert rules: valid, unit-tested with promtool, and asking only for metrics leadflow exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from tests.deploy.exported import exported_names, metric_names

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _promtool(*args: str) -> subprocess.CompletedProcess:
    promtool = shutil.which("promtool")
    assert promtool, "the Debian prometheus package is missing (make test installs it)"
    return subprocess.run([promtool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)


def test_the_rules_and_the_compose_config_are_valid() -> None:
    for args in (("check", "rules", "alerts.yml"), ("check", "config", "prometheus.yml")):
        result = _promtool(*args)
        assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_passes_its_promtool_unit_tests() -> None:
    result = _promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_alert_has_a_test_and_asks_only_for_exported_metrics() -> None:
    rules = [rule for group in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
             for rule in group["rules"]]
    tested = {case["alertname"] for test in yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
              for case in test["alert_rule_test"]}
    exported = exported_names()
    required = {"LeadflowConsumerLagHigh", "LeadflowSlaBreachRateHigh", "LeadflowDeadLettersGrowing",
                "LeadflowCollectorFailing", "LeadflowSpoolGrowing", "LeadflowWorkerStalled", "LeadflowTimersLate"}
    assert required <= {rule["alert"] for rule in rules}
    for rule in rules:
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test"
        assert rule["labels"]["severity"] in ("page", "warning")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        unknown = metric_names(rule["expr"]) - exported
        assert not unknown, f"{rule['alert']} asks for {sorted(unknown)}, which no leadflow process exports"
