"""The status panel's numbers, read from Prometheus text as the three processes export it."""

from dataclasses import fields

from leadflow import status
from leadflow.status import Totals, read_totals

COLLECTOR = """
# TYPE leadflow_collector_inputs_total counter
leadflow_collector_inputs_total{source="events",type="page.viewed",outcome="accepted"} 90.0
leadflow_collector_inputs_total{source="pixel",type="email.opened",outcome="accepted"} 10.0
leadflow_collector_inputs_total{source="events",type="-",outcome="rejected"} 4.0
# TYPE leadflow_collector_spool_records gauge
leadflow_collector_spool_records 0.0
"""
WORKER = """
# TYPE leadflow_worker_events_processed_total counter
leadflow_worker_events_processed_total{type="page.viewed"} 80.0
leadflow_worker_events_processed_total{type="crm.accepted"} 2.0
# TYPE leadflow_worker_lead_events_total counter
leadflow_worker_lead_events_total{type="lead.promoted"} 5.0
leadflow_worker_lead_events_total{type="lead.recycled"} 1.0
# TYPE leadflow_consumer_lag_records gauge
leadflow_consumer_lag_records{group="leadflow-worker",topic="leadflow.interactions",partition="0"} 7.0
leadflow_consumer_lag_records{group="leadflow-worker",topic="leadflow.interactions",partition="1"} 3.0
# TYPE leadflow_sla_clocks_waiting gauge
leadflow_sla_clocks_waiting{status="open"} 3.0
leadflow_sla_clocks_waiting{status="breached"} 1.0
# TYPE leadflow_sla_steps_total counter
leadflow_sla_steps_total{type="sla.met"} 2.0
leadflow_sla_steps_total{type="sla.breached"} 1.0
"""
SINK = """
# TYPE leadflow_sink_records_total counter
leadflow_sink_records_total{outcome="written"} 12.0
# TYPE leadflow_consumer_lag_records gauge
leadflow_consumer_lag_records{group="leadflow-sink",topic="leadflow.leads",partition="0"} 2.0
"""


def test_every_field_is_read_from_a_metric() -> None:
    assert {f.name for f in fields(Totals)} == set(status._SAMPLES)


def test_totals_sum_the_right_series_of_each_process() -> None:
    totals = read_totals([COLLECTOR, WORKER, SINK])
    assert totals == Totals(accepted=100, rejected=4, spooled=0, scored=82, worker_lag=10, sink_lag=2, promoted=5,
                            demoted=0, recycled=1, sla_open=3, sla_breached=1, sla_met=2, crm_written=12,
                            dead_letters=0)
    assert read_totals([SINK]) == Totals(crm_written=12, sink_lag=2)  # a process not answering counts as 0


def test_rates_come_from_two_readings_and_never_go_negative() -> None:
    before = Totals(accepted=100, scored=80)
    after = Totals(accepted=300, scored=60, promoted=5, sla_open=3)  # the worker restarted: its counter reset
    text = status.line(before, after, 2.0)
    assert text.startswith("status: inputs 100.0/s, scored 0.0/s,") and "promoted 5" in text
    assert "SLA open 3 breached 0 met 0" in text
    rows = status.panel(before, after, 2.0)
    assert len(rows) == 5 and "100.0/s" in rows[0] and rows[3].startswith("SLA      open 3")
    assert rows[4].startswith("automate actions 0")
