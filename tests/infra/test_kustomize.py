"""The platform's own install: every overlay renders with `kubectl kustomize`, validates
strictly against the offline Kubernetes schemas, and llmgenie's own scan of the rendered output
finds nothing at high or critical."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from llmgenie.agents.tools.checks.kubernetes_schema import schema_errors
from tests.infra.conftest import OVERLAYS, ROOT, find, render

#: Custom resources the offline schemas do not know (the Prometheus Operator's).
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_overlay_validates_strictly_against_the_kubernetes_schemas(overlay: str) -> None:
    problems = []
    for obj in render(overlay):
        errors = schema_errors(obj)
        name = f"{obj['kind']}/{obj['metadata']['name']}"
        if errors is None:
            assert obj["kind"] in CUSTOM_KINDS, f"no schema for {name}"
            continue
        problems += [f"{name}: {e.message}" for e in errors]
        assert obj["metadata"].get("namespace", "llmgenie") == "llmgenie", name
    assert problems == []


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_llmgenie_scan_of_the_rendered_overlay_has_nothing_high(
    overlay: str, tmp_path: Path
) -> None:
    (tmp_path / f"{overlay}.yaml").write_text(yaml.safe_dump_all(render(overlay)))
    assert _high_findings(tmp_path) == []


def test_llmgenie_scan_of_the_infra_folder_has_nothing_high() -> None:
    assert _high_findings(ROOT / "infra") == []


def _high_findings(path: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "llmgenie", "scan", str(path), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    findings = json.loads(out.stdout)["findings"]
    return [
        f"{f['rule_id']} {f.get('file')}:{f.get('line')} {f['title']}"
        for f in findings
        if f["severity"] in ("high", "critical")
    ]


def test_dev_runs_one_of_each_with_its_own_database_and_bucket() -> None:
    dev = render("dev")
    kinds = Counter(o["kind"] for o in dev)
    assert all(
        o["spec"].get("replicas", 1) == 1 for o in dev if o["kind"] in {"Deployment", "StatefulSet"}
    )
    for kind, name in [
        ("StatefulSet", "postgres"),
        ("Deployment", "minio"),
        ("Job", "minio-bucket"),
        ("Deployment", "prefect-server"),
        ("Deployment", "llmgenie-worker"),
        ("Deployment", "llmgenie-api"),
        ("StatefulSet", "chroma"),
        ("Deployment", "pushgateway"),
    ]:
        find(dev, kind, name)
    assert kinds["Secret"] == 1  # the Prefect server's database URL; no credential in the repo
    settings = find(dev, "ConfigMap", "llmgenie-settings")["data"]
    assert settings["AWS_ENDPOINT_URL"] == "http://minio:9000"


def test_prod_is_sized_scaled_budgeted_fenced_and_watched() -> None:
    prod = render("prod")
    api = find(prod, "Deployment", "llmgenie-api")
    resources = api["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert resources == {
        "requests": {"cpu": "500m", "memory": "1Gi"},
        "limits": {"cpu": "2", "memory": "4Gi"},
    }
    assert "replicas" not in api["spec"]  # the HPA owns it
    hpa = find(prod, "HorizontalPodAutoscaler", "llmgenie-api")["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70
    for name in ("llmgenie-api", "prefect-server"):
        find(prod, "PodDisruptionBudget", name)
    deny = find(prod, "NetworkPolicy", "default-deny")["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    selected = {
        json.dumps(o["spec"]["podSelector"], sort_keys=True)
        for o in prod
        if o["kind"] == "NetworkPolicy" and o["spec"]["podSelector"]
    }
    for pod in ("llmgenie-api", "llmgenie-worker", "prefect-server", "redis", "chroma"):
        assert json.dumps({"matchLabels": {"app.kubernetes.io/name": pod}}) in selected, pod
    assert json.dumps({"matchLabels": {"llmgenie.io/role": "flow-run"}}) in selected
    hosts = {r["host"] for o in prod if o["kind"] == "Ingress" for r in o["spec"]["rules"]}
    assert hosts == {"llmgenie.example.com", "prefect.example.com"}
    find(prod, "ServiceMonitor", "llmgenie")
    find(prod, "PrometheusRule", "llmgenie")  # infra/observability: alert rules and dashboard
    dashboards = [o for o in prod if o["kind"] == "ConfigMap" and "grafana_dashboard" in
                  o["metadata"].get("labels", {})]  # fmt: skip
    assert dashboards, "the Grafana dashboard ConfigMap is not in prod"
    # more than one Prefect API replica: events over Redis, the services apart
    server = find(prod, "Deployment", "prefect-server")["spec"]["template"]["spec"]
    assert "--no-services" in server["containers"][0]["args"]
    find(prod, "Deployment", "prefect-services")
    redis = find(prod, "ConfigMap", "prefect-redis")["data"]
    assert redis["PREFECT_MESSAGING_BROKER"] == "prefect_redis.messaging"
    assert not [o for o in prod if o["kind"] == "Secret"]  # by reference only
    images = {
        c["image"]
        for o in prod
        if o["kind"] in {"Deployment", "StatefulSet"}
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert "registry.example.com/llmgenie:0.1.0" in images and "llmgenie" not in images


def test_the_worker_may_touch_only_jobs_and_pods_in_its_namespace() -> None:
    for overlay in OVERLAYS:
        objects = render(overlay)
        assert not [o for o in objects if o["kind"] in {"ClusterRole", "ClusterRoleBinding"}]
        rules = find(objects, "Role", "llmgenie-worker")["rules"]
        resources = {r for rule in rules for r in rule["resources"]}
        assert resources == {"jobs", "pods", "pods/log", "pods/status", "events"}
        writes = {
            r
            for rule in rules
            if set(rule["verbs"]) & {"create", "patch", "delete", "update"}
            for r in rule["resources"]
        }
        assert writes == {"jobs"}
