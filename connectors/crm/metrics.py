"""The sink's Prometheus metrics."""

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter("leadflow_sink_records_total", "Lead events consumed by the sink", ["outcome"])
WRITES = Counter("leadflow_sink_writes_total", "Database transactions committed by the sink")
RETRIES = Counter("leadflow_sink_retries_total", "Database writes retried after a transient error")
WRITE_SECONDS = Histogram("leadflow_sink_write_seconds", "Time to write one batch to the CRM database",
                          buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
READY = Gauge("leadflow_sink_ready", "1 once the sink has joined its consumer group")
