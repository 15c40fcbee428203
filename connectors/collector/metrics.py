"""The collector's Prometheus metrics."""

from functools import lru_cache

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess

INPUTS = Counter("leadflow_collector_inputs_total", "Inputs received by the collector",
                 ["source", "type", "outcome"])
REJECTIONS = Counter("leadflow_collector_rejections_total", "Inputs refused, by reason", ["source", "reason"])
PRODUCE_SECONDS = Histogram("leadflow_collector_produce_seconds", "Time from produce to broker acknowledgement",
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
SPOOL_RECORDS = Gauge("leadflow_collector_spool_records", "Records waiting in the disk spool for Kafka",
                      multiprocess_mode="livesum")
SPOOLED = Counter("leadflow_collector_spooled_total", "Records written to the disk spool")
REPLAYED = Counter("leadflow_collector_replayed_total", "Spooled records delivered to Kafka")
SPOOL_FULL = Counter("leadflow_collector_spool_full_total", "Requests refused because the spool was full")
REJECTED_SPOOL_RECORDS = Gauge("leadflow_collector_rejected_spool_records",
                               "Rejected inputs waiting in their own disk spool for Kafka", multiprocess_mode="livesum")
REJECTED_DROPPED = Counter("leadflow_collector_rejected_dropped_total",
                           "Rejected inputs not recorded: Kafka was away and the rejections' spool budget was spent")
REJECTED_TRUNCATED = Counter("leadflow_collector_rejected_truncated_total",
                             "Rejected inputs whose stored payload was cut to the size limit", ["source"])


@lru_cache(maxsize=1024)
def input_counter(source: str, type_: str, outcome: str) -> Counter:
    """The labelled child, cached: ``labels()`` is measurable on the pixel's hot path."""
    return INPUTS.labels(source, type_, outcome)


def exposition() -> tuple[bytes, str]:
    """This process's metrics, or all collector processes' when several share the port."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
