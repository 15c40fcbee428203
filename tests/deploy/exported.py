"""What leadflow's processes export, and the metric names a PromQL expression asks for."""

from __future__ import annotations

import re

from prometheus_client import REGISTRY

import connectors.actions.metrics  # noqa: F401  (importing registers each process's metrics)
import connectors.collector.metrics  # noqa: F401
import connectors.crm.metrics  # noqa: F401
import leadflow.consumer_lag  # noqa: F401
import streams.metrics  # noqa: F401

_METRIC = re.compile(r"\b(leadflow_[a-z0-9_]+|up)\b(?!\s*[=!~])")


def metric_names(expr: str) -> set[str]:
    """Series names in a PromQL expression (not label names, not label values)."""
    return set(_METRIC.findall(expr))


def exported_names() -> set[str]:
    """Every series name a leadflow process can export (histograms as _bucket/_sum/_count), plus Prometheus's up."""
    names = {"up"}
    for metric in REGISTRY.collect():
        if metric.name.startswith("leadflow_"):
            names.add(metric.name + ("_total" if metric.type == "counter" else ""))
            if metric.type == "histogram":
                names.update(metric.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    return names
