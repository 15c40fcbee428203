"""The collector's Prometheus metrics."""

from prometheus_client import Counter, Histogram

INPUTS = Counter("leadflow_collector_inputs_total", "Inputs received by the collector",
                 ["source", "type", "outcome"])
REJECTIONS = Counter("leadflow_collector_rejections_total", "Inputs refused, by reason", ["source", "reason"])
PRODUCE_SECONDS = Histogram("leadflow_collector_produce_seconds", "Time from produce to broker acknowledgement",
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
