"""Several collector processes share one port; metrics add up across them; SIGTERM stops all."""

import re
import urllib.error
import urllib.request

import pytest

from tests.processes import leadflow, wait_for_http

pytestmark = pytest.mark.integration


def test_two_processes_share_the_port_and_their_metrics(config, tmp_path):
    env = {**config.as_env(), "LEADFLOW_COLLECTOR_PROCESSES": "2"}
    base = f"http://127.0.0.1:{config.http_port}"
    with leadflow(["collector"], env, tmp_path / "collector.log") as proc:
        assert wait_for_http(f"{base}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
        for _ in range(40):
            urllib.request.urlopen(f"{base}/t/px.gif").read()
        metrics = urllib.request.urlopen(f"{base}/metrics").read().decode()
        hits = re.search(r'leadflow_collector_inputs_total\{outcome="accepted",source="pixel",type="page.viewed"\} '
                         r'(\S+)', metrics)
        assert hits and float(hits.group(1)) == 40.0
        assert len(list((config.data_dir / "collector-metrics").glob("counter_*.db"))) == 2
        proc.terminate()
        assert proc.wait(15) == 0


def test_metrics_can_leave_the_internet_facing_port(config, tmp_path):
    """LEADFLOW_COLLECTOR_METRICS_PORT: /metrics on the internal address only, summed over the processes."""
    from leadflow.process import free_ports

    (internal,) = free_ports(1)
    env = {**config.as_env(), "LEADFLOW_COLLECTOR_PROCESSES": "2", "LEADFLOW_COLLECTOR_METRICS_PORT": str(internal),
           "LEADFLOW_METRICS_HOST": "127.0.0.1"}
    base = f"http://127.0.0.1:{config.http_port}"
    with leadflow(["collector"], env, tmp_path / "collector.log") as proc:
        assert wait_for_http(f"{base}/readyz", 30), (tmp_path / "collector.log").read_text()[-2000:]
        urllib.request.urlopen(f"{base}/t/px.gif").read()
        with pytest.raises(urllib.error.HTTPError) as public:
            urllib.request.urlopen(f"{base}/metrics")
        assert public.value.code == 404
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{internal}/metrics").read().decode()
        assert 'leadflow_collector_inputs_total{outcome="accepted",source="pixel",type="page.viewed"} 1.0' in metrics
        proc.terminate()
        assert proc.wait(15) == 0
