"""The dashboard, the rules and their Kubernetes manifests: well formed, and in step."""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = ROOT / "infra" / "observability" / "kubernetes"
RENDER = runpy.run_path(str(KUBERNETES / "render.py"))


@pytest.mark.parametrize("path", list(RENDER["MANIFESTS"]), ids=lambda p: p.name)
def test_the_manifests_are_rendered_from_their_sources(path: Path) -> None:
    build, source = RENDER["MANIFESTS"][path]
    assert path.read_text() == RENDER["render"](build(), source), (
        f"{path.name} is stale: run python infra/observability/kubernetes/render.py"
    )


def test_every_panel_has_queries_on_the_datasource_variable() -> None:
    dashboard = json.loads(RENDER["DASHBOARD"].read_text())
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"] and all(t["expr"].strip() for t in panel["targets"])


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl is not installed")
def test_the_kustomization_builds_a_configmap_and_a_prometheus_rule() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(KUBERNETES)], capture_output=True, text=True, timeout=60
    )
    assert built.returncode == 0, built.stderr
    kinds = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(built.stdout)}
    assert kinds == {
        ("ConfigMap", "llmgenie-grafana-dashboard"),
        ("PrometheusRule", "llmgenie"),
    }
