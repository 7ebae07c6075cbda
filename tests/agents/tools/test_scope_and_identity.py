"""Scope and identity (issue 20 point 5): no namespace finding on a cluster-scoped or unknown
kind; two definitions of one object are an `ops.duplicate-object` finding naming both, and each
definition is checked on its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.scanning import clear_scan_cache
from llmgenie.core.models import ScanResult


def _scan(target: Path, agents: list[str] | None = None) -> ScanResult:
    clear_scan_cache()
    return scan(target, agents)


def _namespace_findings(target: Path) -> set[str]:
    return {
        f.resource or ""
        for f in _scan(target, ["devops", "security"]).findings
        if f.category == "k8s.default-namespace"
    }


def _crd(kind: str, group: str, scope: str) -> str:
    plural = kind.lower() + "s"
    return (
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
        f"metadata: {{name: {plural}.{group}}}\nspec:\n  group: {group}\n  scope: {scope}\n"
        f"  names: {{kind: {kind}, plural: {plural}}}\n"
        "  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: "
        "{type: object}}}]\n"
    )


def test_namespace_findings_follow_the_scope_of_the_kind(tmp_path: Path) -> None:
    (tmp_path / "objects.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\n"
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\n"
        "rules: []\n---\n"
        "apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: general}\n---\n"
        "apiVersion: karpenter.k8s.aws/v1\nkind: EC2NodeClass\nmetadata: {name: default}\n---\n"
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n"
        "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n"
    )
    (tmp_path / "crds.yaml").write_text(
        _crd("Widget", "example.com", "Namespaced")
        + "---\n"
        + _crd("Gadget", "example.com", "Cluster")
    )
    assert _namespace_findings(tmp_path) == {"ConfigMap//settings", "Widget//w"}


def test_two_definitions_of_one_object_are_one_finding_naming_both(tmp_path: Path) -> None:
    sa = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: test, namespace: default}}\n{}"
    (tmp_path / "a.yaml").write_text(sa.format("automountServiceAccountToken: false\n"))
    (tmp_path / "b.yaml").write_text(sa.format("automountServiceAccountToken: true\n"))
    (tmp_path / "c.yaml").write_text(sa.replace("test", "other").format(""))

    found = [f for f in _scan(tmp_path).findings if f.category == "ops.duplicate-object"]

    assert [(f.resource, f.location, f.evidence) for f in found] == [
        ("ServiceAccount/default/test", "a.yaml:1", "defined 2 times: a.yaml:1, b.yaml:1")
    ]


STATEFULSET = (
    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: data}}\nspec:\n"
    "  replicas: {replicas}\n  serviceName: db\n  selector: {{matchLabels: {{app: db}}}}\n"
    "  template:\n    metadata: {{labels: {{app: db}}}}\n    spec:\n      containers:\n"
    "        - name: db\n          image: postgres:16.4\n"
    "          securityContext: {{privileged: {privileged}}}\n"
)


def test_each_definition_is_checked_on_its_own(tmp_path: Path) -> None:
    """A real StatefulSet and a `replicas: 0` placeholder of the same name: the real one's
    finding stays on the real one."""
    (tmp_path / "a-placeholder.yaml").write_text(STATEFULSET.format(replicas=0, privileged="false"))
    (tmp_path / "statefulset.yaml").write_text(STATEFULSET.format(replicas=3, privileged="true"))
    found = _scan(tmp_path, ["security"]).findings
    assert {f.location for f in found if f.category == "k8s.privileged"} == {"statefulset.yaml:14"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_a_rendered_object_is_located_in_the_definition_it_came_from(tmp_path: Path) -> None:
    """The kustomization renders the real StatefulSet; a placeholder of the same name sits in
    the same folder (left out of `resources`) and sorts first: findings stay on the real one."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "kustomization.yaml").write_text("resources: [statefulset.yaml]\n")
    (app / "a-placeholder.yaml").write_text(STATEFULSET.format(replicas=0, privileged="false"))
    (app / "statefulset.yaml").write_text(STATEFULSET.format(replicas=3, privileged="true"))
    found = _scan(tmp_path, ["security"]).findings
    assert {f.location for f in found if f.category == "k8s.privileged"} == {
        "app/statefulset.yaml:14"
    }
