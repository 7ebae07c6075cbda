"""Runbooks from whole objects: a Kustomize patch scanned raw is never catalogued as a workload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmgenie.agents.tools import scan_detailed
from llmgenie.agents.tools.scanning import clear_scan_cache

BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: "nginx:1.25"}
"""
PATCH = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
"""
OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../../base]
patches:
  - path: replicas.yaml
"""


def _tree(root: Path) -> Path:
    (root / "base").mkdir(parents=True)
    (root / "base" / "deploy.yaml").write_text(BASE)
    (root / "base" / "kustomization.yaml").write_text("resources: [deploy.yaml]\n")
    (root / "overlays" / "dev").mkdir(parents=True)
    (root / "overlays" / "dev" / "kustomization.yaml").write_text(OVERLAY)
    (root / "overlays" / "dev" / "replicas.yaml").write_text(PATCH)
    return root


@pytest.mark.parametrize("kubectl", [False, True], ids=["raw", "rendered"])
def test_a_patch_fragment_gets_no_row_and_no_runbook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubectl: bool
) -> None:
    if kubectl and shutil.which("kubectl") is None:
        pytest.skip("kubectl not on PATH")
    if not kubectl:
        monkeypatch.setenv("PATH", str(tmp_path / "no-tools"))
    clear_scan_cache()
    result = scan_detailed(_tree(tmp_path / "target"), ["documentation"])
    doc = result.per_agent["documentation"]
    runbooks = doc.output["runbooks"]
    assert list(runbooks) == ["web"]
    assert "Images | `nginx:1.25`" in runbooks["web"]  # the whole object, not the patch
    if not kubectl:  # rendered, the overlay's whole object is a variant located by the scan
        assert "overlays/dev/replicas.yaml" not in runbooks["web"]
    rows = [ln for ln in doc.output["catalogue_md"].splitlines() if ln.startswith("| web |")]
    assert len(rows) == 1
    # a file a kustomization names as a patch is not scanned as a whole object at all (decision
    # 0029), so Documentation never sees the fragment: nothing to leave out, nothing to note
    assert not [n for n in doc.notes if "patch file(s) left out" in n]
    clear_scan_cache()
