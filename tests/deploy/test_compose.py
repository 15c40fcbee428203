"""The Dockerfile and deploy/docker-compose.yml, checked without a Docker engine: what the image installs, and
that the compose file wires Kafka (KRaft), PostgreSQL, the three services, Prometheus and Grafana together."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml

from leadflow.cli import build_parser
from leadflow.config import SETTINGS, Config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())


def test_the_image_copies_every_package_and_installs_its_data_files(tmp_path) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \1$", dockerfile, re.M))
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    assert copied == {name.rstrip("*") for name in packages["include"]}
    assert re.search(r"^USER 10001$", dockerfile, re.M) and 'ENTRYPOINT ["leadflow"]' in dockerfile
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", str(ROOT), "-w", str(tmp_path)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("leadflow-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"leadflow/models/default.yaml", "leadflow/models/automations.yaml",
            "leadflow/models/templates/welcome-1.txt", "leadflow/models/templates/welcome-1.html"} <= names
    assert {f"connectors/crm/migrations/{p.name}" for p in (ROOT / "connectors/crm/migrations").glob("*.sql")} <= names
    assert {f"schemas/{p.name}" for p in (ROOT / "schemas").glob("*.avsc")} <= names
    assert {"connectors/collector/static/lf.js", "connectors/collector/static/snippet.html"} <= names  # the tracker


def test_kafka_runs_in_kraft_mode_and_the_services_wait_for_the_setup() -> None:
    services = compose()["services"]
    assert set(services) == {"kafka", "postgres", "init", "collector", "worker", "sink", "actions", "prometheus",
                             "grafana"}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:") and "controller" in kafka["environment"]["KAFKA_PROCESS_ROLES"]
    assert not any("zookeeper" in name for name in services)
    assert services["init"]["depends_on"] == {"kafka": {"condition": "service_healthy"},
                                              "postgres": {"condition": "service_healthy"}}
    assert "leadflow topics create && leadflow migrate" in services["init"]["command"][-1]
    for name in ("collector", "worker", "sink", "actions"):
        service = services[name]
        assert service["command"] == [name] and build_parser().parse_args([name]).command == name
        assert service["depends_on"] == {"init": {"condition": "service_completed_successfully"}}
        assert "healthcheck" in service


def test_every_leadflow_setting_in_the_compose_file_exists_and_the_ports_match_prometheus() -> None:
    services = compose()["services"]
    known = {setting.env for setting in SETTINGS}
    for name in ("init", "collector", "worker", "sink", "actions"):
        unknown = {key for key in services[name]["environment"] if key.startswith("LEADFLOW_")} - known
        assert not unknown, f"{name}: {sorted(unknown)}"
    defaults = Config()
    scrape = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    targets = {job["job_name"]: job["static_configs"][0]["targets"][0] for job in scrape}
    collector_metrics = services["collector"]["environment"].get("LEADFLOW_COLLECTOR_METRICS_PORT", defaults.http_port)
    assert targets == {"leadflow-collector": f"collector:{collector_metrics}",
                       "leadflow-worker": f"worker:{defaults.worker_metrics_port}",
                       "leadflow-sink": f"sink:{defaults.sink_metrics_port}",
                       "leadflow-actions": f"actions:{defaults.actions_metrics_port}"}


def test_mounted_files_exist_and_grafana_finds_the_provisioned_dashboards() -> None:
    services = compose()["services"]
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), f"{name} mounts {source}, which does not exist"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/leadflow.yml").read_text())
    dashboards = [v for v in services["grafana"]["volumes"] if v.startswith("./grafana/dashboards:")]
    assert dashboards == [f"./grafana/dashboards:{provider['providers'][0]['options']['path']}:ro"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in services["prometheus"]["volumes"]


def test_the_worker_runs_the_shipped_model_and_automation_file() -> None:
    services = compose()["services"]
    for reader in ("worker", "actions"):  # the action delivery: quiet hours, the cap and the templates
        service = services[reader]
        mounts = dict(volume.split(":")[1::-1] for volume in service["volumes"])  # container path -> source
        for setting, shipped in (("LEADFLOW_MODEL", "default.yaml"), ("LEADFLOW_AUTOMATIONS", "automations.yaml")):
            path = service["environment"].get(setting, "/etc/leadflow/model.yaml")
            assert (DEPLOY / mounts[path]).resolve() == ROOT / "leadflow" / "models" / shipped, setting
        assert (DEPLOY / mounts["/etc/leadflow/templates"]).resolve() == ROOT / "leadflow" / "models" / "templates"
    for name in ("init", "collector", "sink"):  # an automation file only the worker and the delivery read
        assert "LEADFLOW_AUTOMATIONS" not in services[name]["environment"], name


def test_secrets_have_no_defaults_and_published_ports_stay_on_loopback() -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    secrets = {s.env for s in SETTINGS if s.secret} | {"POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"}
    for name in sorted(secrets):
        assert not re.search(rf"\$\{{{name}:?-", text), f"{name} has a default: a well-known value"
    used = set(re.findall(r"\$\{(\w+):\?set \1\}", text))
    assert {"LEADFLOW_WRITE_KEY", "LEADFLOW_LINK_SECRET", "LEADFLOW_API_TOKEN", "LEADFLOW_CRM_FEEDBACK_TOKEN",
            "POSTGRES_PASSWORD", "GRAFANA_ADMIN_PASSWORD"} <= used
    for name, service in compose()["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("${LEADFLOW_PUBLISH_HOST:-127.0.0.1}:"), (name, port)
    config = subprocess.run(["docker", "compose", "-f", str(DEPLOY / "docker-compose.yml"), "config"],
                            capture_output=True, text=True) if shutil.which("docker") else None
    assert config is None or config.returncode != 0  # without the secrets set, compose refuses to start
