"""Every metric leadflow exports follows Prometheus's naming conventions."""

import re

from prometheus_client import REGISTRY

import tests.deploy.exported  # noqa: F401  (registers every process's metrics)

# states (0/1), counts of things named by the noun itself, scores
UNITLESS = {"leadflow_worker_ready", "leadflow_sink_ready", "leadflow_worker_assigned_partitions",
            "leadflow_worker_batch_size", "leadflow_worker_prospect_score", "leadflow_sla_clocks_waiting",
            "leadflow_automation_timers_pending", "leadflow_actions_scheduled", "leadflow_actions_ready",
            "leadflow_worker_states_cached"}


def test_names_are_prefixed_snake_case_with_base_units_and_help() -> None:
    metrics = [m for m in REGISTRY.collect() if m.name.startswith("leadflow_")]
    assert len(metrics) >= 35
    for metric in metrics:
        assert re.fullmatch(r"leadflow_[a-z][a-z0-9_]*[a-z0-9]", metric.name), metric.name
        assert metric.documentation.strip(), f"{metric.name} has no help text"
        assert not re.search(r"_(ms|milliseconds|minutes|hours|kb|mb|percent)(_|$)", metric.name), \
            f"{metric.name}: use base units (seconds, bytes, ratios)"
        if metric.type == "counter":
            continue  # the client exports counters as <name>_total
        assert metric.name in UNITLESS or re.search(r"_(seconds|records|bytes|total)$", metric.name), \
            f"{metric.name}: a gauge or histogram names its unit"
