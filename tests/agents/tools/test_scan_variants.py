"""One finding per issue (issue 20 point 2): the same rule on the same object with the same
evidence in several Kustomize variants is one finding with every location and variant; SARIF
keeps one result with related locations; unused patch fragments are not scanned as objects."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.scanning import clear_scan_cache
from llmgenie.core.models import Finding, ScanResult
from llmgenie.core.render import render_sarif

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")

DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
    "  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n"
    "    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n"
    "          securityContext: {privileged: true}\n"
)


def _tree(root: Path) -> None:
    (root / "base").mkdir(parents=True)
    (root / "base" / "kustomization.yaml").write_text("resources: [deploy.yaml]\n")
    (root / "base" / "deploy.yaml").write_text(DEPLOY)
    for name, replicas in (("dev", 1), ("prod", 3)):
        overlay = root / "overlays" / name
        overlay.mkdir(parents=True)
        (overlay / "kustomization.yaml").write_text(
            f"resources: [../../base]\nreplicas: [{{name: web, count: {replicas}}}]\n"
        )


def _scan(root: Path) -> ScanResult:
    clear_scan_cache()
    return scan(root, ["security"])


def _privileged(result: ScanResult) -> list[Finding]:
    return [f for f in result.findings if f.category == "k8s.privileged"]


def test_one_issue_in_three_variants_is_one_finding(tmp_path: Path) -> None:
    _tree(tmp_path)
    (found,) = _privileged(_scan(tmp_path))
    assert found.location == "base/deploy.yaml:12"
    assert found.variants == ["base", "overlays/dev", "overlays/prod"]
    assert found.in_variants == "in 3 of 3 variants"
    assert [(loc.file, loc.line, loc.variant) for loc in found.locations] == [
        ("base/deploy.yaml", 12, "base"),
        ("base/deploy.yaml", 12, "overlays/dev"),
        ("base/deploy.yaml", 12, "overlays/prod"),
    ]


def test_sarif_keeps_one_result_with_related_locations(tmp_path: Path) -> None:
    _tree(tmp_path)
    sarif = json.loads(render_sarif(_scan(tmp_path)))
    results = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "LG-K8S-001"]
    assert len(results) == 1
    related = results[0]["relatedLocations"]
    assert [r["message"]["text"] for r in related] == [
        "via base",
        "via overlays/dev",
        "via overlays/prod",
    ]
    assert results[0]["properties"]["variants"] == ["base", "overlays/dev", "overlays/prod"]


def test_a_different_object_in_each_variant_stays_a_finding_each(tmp_path: Path) -> None:
    """The twin: a namePrefix makes another object, so another finding."""
    _tree(tmp_path)
    (tmp_path / "overlays" / "dev" / "kustomization.yaml").write_text(
        "resources: [../../base]\nnamePrefix: dev-\n"
    )
    found = _privileged(_scan(tmp_path))
    assert sorted(f.resource or "" for f in found) == [
        "Deployment/shop/dev-web",
        "Deployment/shop/web",
    ]


def test_an_unused_patch_fragment_is_not_scanned_as_an_object(tmp_path: Path) -> None:
    """A commented-out patch left in an overlay folder: a container without an image."""
    _tree(tmp_path)
    (tmp_path / "overlays" / "dev" / "manager_patch.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: controller}\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: app\n"
        "          securityContext: {privileged: true}\n"
    )
    result = _scan(tmp_path)
    assert {f.file for f in result.findings} == {"base/deploy.yaml"}
    assert any("manager_patch.yaml: an unused patch fragment" in n for n in result.summary.notes)


@pytest.mark.parametrize(
    "fragment",
    [  # kubeflow's commented-out manager_image_patch.yaml and webhookcainjection_patch.yaml
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: controller}\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: manager\n"
        "          image: controller:v1\n",
        "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\n"
        "metadata:\n  name: mutating-webhook-configuration\n"
        "  annotations: {cert-manager.io/inject-ca-from: x/y}\n",
    ],
    ids=["workload-without-selector", "webhooks-without-webhooks"],
)
def test_an_unused_fragment_that_lacks_a_required_field_is_not_scanned(
    tmp_path: Path, fragment: str
) -> None:
    _tree(tmp_path)
    (tmp_path / "overlays" / "dev" / "image_patch.yaml").write_text(fragment)
    result = _scan(tmp_path)
    assert {f.file for f in result.findings} == {"base/deploy.yaml"}
    assert any("image_patch.yaml: an unused patch fragment" in n for n in result.summary.notes)


def test_a_patch_named_by_a_kustomization_is_never_scanned_as_written(tmp_path: Path) -> None:
    _tree(tmp_path)
    overlay = tmp_path / "overlays" / "prod"
    (overlay / "kustomization.yaml").write_text(
        "resources: [../../base]\npatches: [{path: probe.yaml}]\n"
    )
    (overlay / "probe.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: app\n"
        "          image: nginx:1.27\n"
    )
    result = _scan(tmp_path)
    assert "overlays/prod/probe.yaml" not in {f.file for f in result.findings}


def test_a_generated_bundle_of_the_same_install_adds_a_location(tmp_path: Path) -> None:
    """`release/all.yaml` holds the objects the kustomization renders: the issue is listed at
    both places, once; an object only written once has no extra locations."""
    _tree(tmp_path)
    (tmp_path / "release").mkdir()
    (tmp_path / "release" / "all.yaml").write_text(DEPLOY)
    (tmp_path / "release" / "other.yaml").write_text(DEPLOY.replace("name: web", "name: api"))
    found = {f.resource: f for f in _privileged(_scan(tmp_path))}
    assert set(found) == {"Deployment/shop/web", "Deployment/shop/api"}
    web = found["Deployment/shop/web"]
    assert ("release/all.yaml", 12, None) in {(x.file, x.line, x.variant) for x in web.locations}
    assert web.in_variants == "in 3 of 3 variants"
    assert found["Deployment/shop/api"].locations == []


def _escalation(root: Path) -> list[tuple[str | None, list[str]]]:
    clear_scan_cache()
    return sorted(
        (f.location, f.variants)
        for f in scan(root, ["security"]).findings
        if f.category == "k8s.privilege-escalation"
    )


def test_a_patch_that_deletes_a_setting_is_not_reported_at_the_line_that_sets_it(
    tmp_path: Path,
) -> None:
    """The base sets `allowPrivilegeEscalation: false`; overlays/dev deletes the container's
    securityContext. The dev finding points at the container, never at the line saying false."""
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [deploy.yaml]\n")
    (tmp_path / "base" / "deploy.yaml").write_text(
        DEPLOY.replace("{privileged: true}", "{allowPrivilegeEscalation: false}")
    )
    dev = tmp_path / "overlays" / "dev"
    dev.mkdir(parents=True)
    (dev / "kustomization.yaml").write_text(
        "resources: [../../base]\npatches:\n  - target: {kind: Deployment, name: web}\n"
        "    patch: |\n      - op: remove\n"
        "        path: /spec/template/spec/containers/0/securityContext\n"
    )
    assert _escalation(tmp_path) == [("base/deploy.yaml:10", ["overlays/dev"])]
