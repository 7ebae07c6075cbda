"""Remediation patches: applied with `patch`, the files still parse, validate, and rescan clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.kubernetes import GROUPS
from llmgenie.agents.tools.checks.kubernetes_schema import schema_errors
from llmgenie.agents.tools.devops.patches import build_patches, patch_text
from llmgenie.agents.tools.parsing.kubernetes import K8sObject, iter_k8s_objects, iter_k8s_text
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.core.context import analyze
from llmgenie.core.models import Finding

FIXTURES = Path(__file__).parents[2] / "fixtures" / "patches"
FIXED_CATEGORIES = {
    "k8s.privilege-escalation",
    "k8s.read-only-root-fs",
    "k8s.capabilities",
    "k8s.seccomp",
    "k8s.cpu-requests",
    "k8s.memory-requests",
    "k8s.cpu-limits",
    "k8s.memory-limits",
    "k8s.image-latest-tag",
}


def _objects(root: Path) -> list[K8sObject]:
    out = []
    for rel in ("deploy/app.yaml", "deploy/worker.yaml"):
        items = list(iter_k8s_objects(root / rel, rel))
        assert all(isinstance(i, K8sObject) for i in items), items
        out += items
    return out


def _security_scan(root: Path) -> list[Finding]:
    objects = _objects(root)
    ctx = ScanContext(root=root)
    for o in objects:
        ctx.index(o)
    return [f for o in objects for rules in GROUPS.values() for f in rules.run(o, ctx)]


def _keys(findings: list[Finding]) -> set[tuple[str, str | None]]:
    return {(f.category, f.resource) for f in findings if f.category in FIXED_CATEGORIES}


@pytest.fixture
def target(tmp_path: Path) -> Path:
    root = tmp_path / "target"
    shutil.copytree(FIXTURES, root)
    return root


def test_patches_apply_parse_validate_and_fix_the_findings(target: Path) -> None:
    before = _security_scan(target)
    assert ("k8s.image-latest-tag", "Deployment/shop/api") in _keys(before)
    assert ("k8s.seccomp", "CronJob/shop/report") in _keys(before)
    original = {p: p.read_text() for p in target.rglob("*.yaml")}

    context = analyze(str(target))
    patches = build_patches(target, context, before)
    assert set(patches.diffs) == {"deploy/app.yaml"}  # worker.yaml needs nothing
    assert {p: p.read_text() for p in target.rglob("*.yaml")} == original  # output only

    diff = "".join(patches.diffs.values())
    proc = subprocess.run(
        ["patch", "-p1", "--forward", "--batch"],
        input=diff,
        text=True,
        cwd=target,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr

    patched = (target / "deploy/app.yaml").read_text()
    assert "# The shop API: comments like this one must survive the patch." in patched
    assert "# same image, runs migrations" in patched
    assert "# livenessProbe:" in patched  # a commented skeleton, not an enabled probe
    assert "llmgenie: conservative default" in patched

    for o in _objects(target):
        assert schema_errors(o.obj) == [], o.resource

    after = _security_scan(target)
    assert _keys(after) == set(), _keys(after)
    # run-as-root stays on the CronJob: it sets runAsUser 0, which a patch must not fight.
    assert ("k8s.run-as-root", "CronJob/shop/report") in {(f.category, f.resource) for f in after}
    assert any("runAsUser 0" in n for n in patches.notes)
    # probes are only skeletons, so their findings stay until someone fills them in.
    assert ("k8s.liveness-probe", "Deployment/shop/api") in {
        (f.category, f.resource) for f in after
    }


def test_only_findings_given_are_patched(target: Path) -> None:
    findings = [f for f in _security_scan(target) if f.category == "k8s.seccomp"]
    patches = build_patches(target, analyze(str(target)), findings)
    assert {(f["category"], f["resource"]) for f in patches.fixes} == {
        ("k8s.seccomp", "Deployment/shop/api"),
        ("k8s.seccomp", "CronJob/shop/report"),
    }


def test_image_version_is_taken_only_when_unambiguous() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "    - name: a\n      image: shop/app:latest\n"
    )
    _, fixes, _ = patch_text(text, "p.yaml", versions={"shop/app": {":1.0", ":2.0"}})
    assert "k8s.image-latest-tag" not in {f["category"] for f in fixes}
    fixed, fixes, _ = patch_text(text, "p.yaml", versions={"shop/app": {":2.0"}})
    assert "image: shop/app:2.0" in fixed


def test_limits_never_fall_below_requests() -> None:
    text = (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "    - name: a\n      image: shop/app:1\n      resources:\n"
        "        requests:\n          cpu: '2'\n          memory: 4Gi\n"
    )
    fixed, _, _ = patch_text(text, "p.yaml")
    obj = next(o for o in iter_k8s_text(fixed, "p.yaml") if isinstance(o, K8sObject))
    res = obj.obj["spec"]["containers"][0]["resources"]
    assert res["limits"] == {"cpu": "2", "memory": "4Gi"}


def test_unparseable_documents_are_left_alone() -> None:
    text = "apiVersion: v1\nkind: Pod\nmetadata: {name: [\n"
    fixed, fixes, notes = patch_text(text, "bad.yaml")
    assert fixed == text and fixes == [] and notes


def test_comments_and_separators_before_a_document_survive() -> None:
    text = (
        "# Licence header\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n"
        "  containers:\n  - name: a\n    image: x:1\n"
        "---\n# second\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    )
    fixed, fixes, _ = patch_text(text, "p.yaml")
    assert fixes
    assert fixed.startswith("# Licence header\n---\napiVersion: v1\nkind: Pod\n")
    assert fixed.endswith("---\n# second\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n")
    assert fixed.count("\n---\n") == 2


def test_a_file_without_a_final_newline_still_patches(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n"
        "    - name: a\n      image: x:1"
    )
    patches = build_patches(tmp_path, analyze(str(tmp_path)))
    proc = subprocess.run(
        ["patch", "-p1", "--batch"],
        input=patches.diffs["pod.yaml"],
        text=True,
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (obj,) = iter_k8s_objects(tmp_path / "pod.yaml", "pod.yaml")
    assert isinstance(obj, K8sObject) and schema_errors(obj.obj) == []
