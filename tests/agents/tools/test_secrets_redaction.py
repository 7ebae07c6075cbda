"""Secrets never leave the target through DevOps's patches or the audit log's prompts:
the file's secrets are masked in the diff, context lines included, and the patch says so.
Fake credentials are assembled at run time, never written whole here."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.devops.patches import build_patches
from llmgenie.core import audit
from llmgenie.core.context import analyze

PASSWORD = "Ap7w" + "Q2xZk9LmR4"
DEPLOYMENT = f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: api
          image: registry.example.com/api:1.0.0
          env:
            - name: API_PASSWORD
              value: {PASSWORD}
          securityContext:
            privileged: true
"""


def test_a_patch_never_carries_the_files_secrets(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(DEPLOYMENT)
    patches = build_patches(tmp_path, analyze(str(tmp_path)))
    diff = patches.diffs["api.yaml"]
    assert "privileged" in diff and f"value: {PASSWORD}" not in diff
    assert PASSWORD not in diff and "value: ****" in diff
    assert "api.yaml: secrets masked in the patch: apply it by hand" in patches.notes


def test_a_patch_without_secrets_is_left_as_it_is(tmp_path: Path) -> None:
    plain = DEPLOYMENT.replace("API_PASSWORD", "LOG_LEVEL").replace(PASSWORD, "warn-only")
    (tmp_path / "api.yaml").write_text(plain)
    patches = build_patches(tmp_path, analyze(str(tmp_path)))
    assert "****" not in patches.diffs["api.yaml"]
    assert not any("masked" in n for n in patches.notes)


def test_stored_prompts_are_redacted_with_what_the_target_held(tmp_path: Path) -> None:
    (tmp_path / "api.yaml").write_text(DEPLOYMENT)
    build_patches(tmp_path, analyze(str(tmp_path)))  # the detector has read the file
    prompt = f"Context:\n  value: {PASSWORD}\nFix the Deployment."
    kept = audit.mask({"prompt": prompt}, keep_prompts=True)
    assert PASSWORD not in str(kept) and "Fix the Deployment." in kept["prompt"]
