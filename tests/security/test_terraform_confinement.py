"""Terraform reads only files the walker accepted (issue 19 point 6): a `.tf` symlink out of the
target is skipped by the walker and must not change the result through a module's siblings."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.scanning import clear_scan_cache

VOLUME = 'resource "aws_ebs_volume" "data" {\n  availability_zone = "eu-west-1a"\n  size = 10\n}\n'
ACCOUNT_WIDE = 'resource "aws_ebs_encryption_by_default" "on" {\n  enabled = true\n}\n'


def _unencrypted(target: Path) -> list[str]:
    clear_scan_cache()
    return [
        f.location or ""
        for f in scan(target, ["security"]).findings
        if f.resource == "aws_ebs_volume.data"
    ]


def test_a_sibling_symlinked_out_of_the_target_is_not_read(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "main.tf").write_text(VOLUME)
    assert _unencrypted(target) == ["main.tf:1"]

    (tmp_path / "outside.tf").write_text(ACCOUNT_WIDE)
    (target / "account.tf").symlink_to(tmp_path / "outside.tf")

    assert _unencrypted(target) == ["main.tf:1"]


def test_a_sibling_inside_the_target_is_still_read(tmp_path: Path) -> None:
    """The twin: the same file, really in the module, turns the finding off."""
    target = tmp_path / "target"
    target.mkdir()
    (target / "main.tf").write_text(VOLUME)
    (target / "account.tf").write_text(ACCOUNT_WIDE)
    assert _unencrypted(target) == []
