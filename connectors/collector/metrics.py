"""The collector's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

INPUTS = Counter("leadflow_collector_inputs_total", "Inputs received by the collector",
                 ["source", "type", "outcome"])
REJECTIONS = Counter("leadflow_collector_rejections_total", "Inputs refused, by reason", ["source", "reason"])
PRODUCE_SECONDS = Histogram("leadflow_collector_produce_seconds", "Time from produce to broker acknowledgement",
                            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5))
SPOOL_RECORDS = Gauge("leadflow_collector_spool_records", "Records waiting in the disk spool for Kafka")
SPOOLED = Counter("leadflow_collector_spooled_total", "Records written to the disk spool")
REPLAYED = Counter("leadflow_collector_replayed_total", "Spooled records delivered to Kafka")
SPOOL_FULL = Counter("leadflow_collector_spool_full_total", "Requests refused because the spool was full")
