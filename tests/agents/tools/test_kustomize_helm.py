"""Rendering Kustomize and Helm offline: remote and out-of-target references are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.kustomize_helm import helm_refusal, kustomize_refusal, render

DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
    "  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n"
    "          securityContext: {privileged: true}\n"
)


def _kustomization(folder: Path, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(body)


@pytest.mark.parametrize(
    "reference",
    [
        "https://raw.githubusercontent.com/org/repo/main/deploy.yaml",
        "http://169.254.169.254/latest/meta-data/",
        "github.com/org/repo//deploy?ref=v1.0.0",
        "git@github.com:org/repo.git//deploy",
        "ssh://git@example.com/org/repo.git",
    ],
)
def test_a_remote_resource_is_refused(tmp_path: Path, reference: str) -> None:
    _kustomization(tmp_path / "app", f"resources:\n  - deploy.yaml\n  - {reference}\n")
    refusal = kustomize_refusal(tmp_path, "app")
    assert refusal is not None and "remote resource" in refusal and reference[:40] in refusal


def test_a_token_in_a_remote_url_is_not_repeated(tmp_path: Path) -> None:
    token = "ghp_" + "a1" * 18
    _kustomization(tmp_path / "app", f"resources:\n  - https://ci:{token}@github.com/o/r//k\n")
    refusal = kustomize_refusal(tmp_path, "app") or ""
    assert "remote resource, https://ci:****@github.com/o/r//k" in refusal
    assert token not in refusal


def test_a_remote_resource_in_a_base_is_refused(tmp_path: Path) -> None:
    _kustomization(tmp_path / "base", "resources:\n  - https://example.com/x.yaml\n")
    _kustomization(tmp_path / "overlays" / "prod", "resources:\n  - ../../base\n")
    assert "base/kustomization.yaml names a remote resource" in (
        kustomize_refusal(tmp_path, "overlays/prod") or ""
    )


@pytest.mark.parametrize(
    "body",
    [
        "resources:\n  - ../../outside\n",
        "configMapGenerator:\n  - name: c\n    files:\n      - passwd=../../../etc/passwd\n",
        "patches:\n  - path: /etc/hosts\n",
    ],
)
def test_a_reference_outside_the_target_is_refused(tmp_path: Path, body: str) -> None:
    root = tmp_path / "target"
    _kustomization(root / "app", body)
    assert "outside the target" in (kustomize_refusal(root, "app") or "")


def test_a_base_symlinked_out_of_the_target_is_refused(tmp_path: Path) -> None:
    _kustomization(tmp_path / "elsewhere", "resources: []\n")
    root = tmp_path / "target"
    _kustomization(root / "app", "resources:\n  - ../base\n")
    (root / "base").symlink_to(tmp_path / "elsewhere")
    assert "outside the target" in (kustomize_refusal(root, "app") or "")


def test_local_bases_and_files_inside_the_target_are_fine(tmp_path: Path) -> None:
    _kustomization(tmp_path / "base", "resources:\n  - deploy.yaml\n")
    _kustomization(
        tmp_path / "overlays" / "prod",
        "resources:\n  - ../../base\npatches:\n  - path: patch.yaml\n"
        "configMapGenerator:\n  - name: c\n    files:\n      - app.conf\n",
    )
    assert kustomize_refusal(tmp_path, "overlays/prod") is None


def test_a_kustomization_naming_a_remote_resource_is_never_rendered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The raw files are scanned instead, and kubectl never runs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ran = tmp_path / "kubectl-ran"
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f"#!/bin/sh\necho ran > {ran}\nexit 1\n")
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    target = tmp_path / "target"
    _kustomization(target, "resources:\n  - deploy.yaml\n  - https://example.com/evil.yaml\n")
    (target / "deploy.yaml").write_text(DEPLOY)

    result = scan(target, ["security"])

    assert not ran.exists()
    assert any("not rendered" in n and "remote resource" in n for n in result.summary.notes)
    assert "Deployment/shop/web" in {f.resource for f in result.findings}


@pytest.mark.skipif(shutil.which("git") is None, reason="git not on PATH")
def test_renderers_run_offline() -> None:
    """Git may use local repositories only; anything over HTTP meets a proxy that refuses."""
    text, err = render(["git", "ls-remote", "https://127.0.0.1:1/org/repo"], 30)
    assert text is None and "transport 'https' not allowed" in err


def test_a_chart_with_a_symlink_out_of_the_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("s3cret")
    chart = tmp_path / "target" / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 0.1.0\n")
    assert helm_refusal(tmp_path / "target", "chart") is None
    (chart / "templates" / "leak.yaml").symlink_to(tmp_path / "secret.txt")
    assert helm_refusal(tmp_path / "target", "chart") == (
        "chart/templates/leak.yaml is a symlink out of the target"
    )
