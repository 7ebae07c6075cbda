"""The Dockerfile/compose/Terraform/secret/dependency toolsets through the real scan engine."""

from __future__ import annotations

import shutil
from pathlib import Path

from llmgenie.agents.tools import scan_detailed

FIXTURES = Path(__file__).parents[2] / "fixtures"


def _tree(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    shutil.copy(FIXTURES / "docker" / "suppressed.Dockerfile", root / "app" / "Dockerfile")
    shutil.copy(FIXTURES / "docker" / "comments-only.Dockerfile", root / "Dockerfile.empty")
    shutil.copy(FIXTURES / "docker" / "invalid-utf8.Dockerfile", root / "Dockerfile.latin1")
    shutil.copy(FIXTURES / "compose" / "suppressed.compose.yaml", root / "compose.yaml")
    (root / "infra").mkdir()
    shutil.copy(FIXTURES / "terraform" / "suppressed" / "main.tf", root / "infra" / "main.tf")
    shutil.copy(FIXTURES / "terraform" / "broken" / "main.tf", root / "infra" / "broken.tf")
    shutil.copy(FIXTURES / "dependencies" / "requirements.txt", root / "requirements.txt")
    (root / "settings.ini").write_text("[db]\npassword = Sup3rS3cretPass\n")
    return root


def test_scan_registers_parsers_rules_and_counts_suppressions(tmp_path: Path) -> None:
    result = scan_detailed(_tree(tmp_path / "t"), ["security", "devops"])
    found = {(f.file, f.rule_id, f.line) for f in result.scan.findings}
    assert {
        ("app/Dockerfile", "LG-DOCKER-003", 10),
        ("compose.yaml", "LG-COMPOSE-001", 11),
        ("infra/main.tf", "LG-TF-002", 27),
        ("requirements.txt", "LG-DEP-001", 15),
        ("settings.ini", "LG-SECRET-011", 2),
    } <= found
    # suppressed in the fixtures: 3 Dockerfile, 3 compose, 4 Terraform, 1 requirements
    assert not any(f.rule_id == "LG-DOCKER-002" for f in result.scan.findings)
    assert result.scan.summary.suppressed == 11
    skipped = {s.path: s.reason for s in result.scan.summary.skipped}
    assert "no instructions" in skipped["Dockerfile.empty"]
    assert "UTF-8" in skipped["Dockerfile.latin1"]
    assert skipped["infra/broken.tf"].startswith("invalid HCL")
