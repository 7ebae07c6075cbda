"""Real-world manifests (tests/fixtures/corpus, with licences): findings verified by hand."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from llmgenie.agents.tools import scan

CORPUS = Path(__file__).parents[2] / "fixtures" / "corpus"
BOUTIQUE = CORPUS / "microservices-demo"
LINTER = CORPUS / "kube-linter" / "checks"

SERVICES = [
    "adservice",
    "cartservice",
    "checkoutservice",
    "currencyservice",
    "emailservice",
    "frontend",
    "paymentservice",
    "productcatalogservice",
    "recommendationservice",
    "shippingservice",
]


def _by_resource(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for f in scan(path, ["security"]).findings:
        if f.rule_id.startswith("LG-K8S-"):
            out[f.resource or ""].add(f.rule_id)
    return out


def test_online_boutique_manifests() -> None:
    found = _by_resource(BOUTIQUE)
    # Every service: hardened securityContext, runAsNonRoot pod-wide, probes and resources set;
    # but no seccomp profile, token automounted, untagged image, no namespace.
    for svc in SERVICES:
        assert found[f"Deployment//{svc}"] == {
            "LG-K8S-011",
            "LG-K8S-012",
            "LG-K8S-013",
            "LG-K8S-014",
            "LG-K8S-021",
        }, svc
        assert found[f"Service//{svc}"] == {"LG-K8S-021"}
        assert found[f"ServiceAccount//{svc}"] == {"LG-K8S-021"}
    # redis:alpine has a tag (no latest finding) but no digest; default service account.
    assert found["Deployment//redis-cart"] == {
        "LG-K8S-011",
        "LG-K8S-012",
        "LG-K8S-014",
        "LG-K8S-021",
    }
    # loadgenerator is left out of the kustomization but is scanned all the same: its init
    # container (digest-pinned busybox) has no resources, its main container no probes.
    assert found["Deployment//loadgenerator"] == {
        "LG-K8S-011",
        "LG-K8S-012",
        "LG-K8S-013",
        "LG-K8S-014",
        "LG-K8S-015",
        "LG-K8S-016",
        "LG-K8S-017",
        "LG-K8S-018",
        "LG-K8S-019",
        "LG-K8S-020",
        "LG-K8S-021",
    }
    assert not any(r.startswith("Service/") and "LG-K8S-001" in ids for r, ids in found.items())


def test_online_boutique_findings_point_into_the_raw_files() -> None:
    result = scan(BOUTIQUE, ["security"])
    frontend = [f for f in result.findings if f.resource == "Deployment//frontend"]
    assert {f.file for f in frontend} == {"kubernetes-manifests/frontend.yaml"}
    image = next(f for f in frontend if f.rule_id == "LG-K8S-013")
    lines = (BOUTIQUE / "kubernetes-manifests/frontend.yaml").read_text().splitlines()
    assert lines[image.line - 1].strip() == "image: frontend"
    # the Helm chart is reported as not analysed, never parsed
    skipped = {s.path: s.reason for s in result.summary.skipped}
    assert "helm" in skipped["helm-chart/Chart.yaml"].lower()
    assert "helm-chart/templates/frontend.yaml" in skipped
    if shutil.which("kubectl"):
        assert any("rendered with kubectl kustomize" in n for n in result.summary.notes)


# kube-linter's fixtures: (file, our category) -> resources where it must fire. Semantics are
# ours (CONTRACTS.md), checked by hand: e.g. an empty capabilities block does not drop NET_RAW,
# and a hostPath to a non-socket file is still a hostPath.
KUBE_LINTER = [
    ("privileged-container", "k8s.privileged", {"Deployment//app1", "DeploymentConfig//app2"}),
    (
        "privilege-escalation-container",
        "k8s.privilege-escalation",
        {"Deployment//app1", "DeploymentConfig//app2"},
    ),
    ("host-network", "k8s.host-network", {"Deployment//app", "DeploymentConfig//app"}),
    ("host-pid", "k8s.host-pid", {"Deployment//app", "DeploymentConfig//app"}),
    ("host-ipc", "k8s.host-ipc", {"Deployment//app", "DeploymentConfig//app"}),
    ("latest-tag", "k8s.image-latest-tag", {"Deployment//app", "DeploymentConfig//app"}),
    (
        "read-secret-from-env-var",
        "k8s.secrets-in-env",
        {"Deployment//app1", "DeploymentConfig//app2"},
    ),
    ("env-var-secret", "k8s.secrets-in-env", set()),  # literal values, no Secret reference
    (
        "no-read-only-root-fs",
        "k8s.read-only-root-fs",
        {"Deployment//app1", "DeploymentConfig//app2"},
    ),
    ("use-namespace", "k8s.default-namespace", {"Deployment/default/app1"}),
]


@pytest.mark.parametrize(
    ("check", "category", "expected"), KUBE_LINTER, ids=[k[0] for k in KUBE_LINTER]
)
def test_kube_linter_checks(check: str, category: str, expected: set[str]) -> None:
    result = scan(LINTER / f"{check}.yml", ["security"])
    assert {f.resource for f in result.findings if f.category == category} == expected


def test_liveness_probe_fixture_fires_only_where_missing() -> None:
    result = scan(LINTER / "no-liveness-probe.yml", ["security"])
    fired = sorted(f.resource for f in result.findings if f.category == "k8s.liveness-probe")
    assert fired == ["Deployment//app1", "DeploymentConfig//app2"]


@pytest.mark.slow
def test_scan_cli_runs_over_every_corpus_file() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llmgenie", "scan", str(CORPUS), "--format", "sarif"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert '"ruleId": "LG-K8S-' in proc.stdout
    # each file on its own through the same entry point, in-process
    from llmgenie.interfaces.cli.main import main

    files = sorted(p for p in CORPUS.rglob("*") if p.suffix in {".yaml", ".yml"})
    assert len(files) > 20
    for path in files:
        with pytest.raises(SystemExit) as exc:
            main(["scan", str(path), "--format", "json", "--output", "/dev/null"])
        assert exc.value.code == 0, path
