"""Terraform as written: variable defaults, tfvars, locals and local module calls decide values."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.checks.terraform import TERRAFORM_RULES
from llmgenie.agents.tools.parsing.terraform import TerraformFile
from llmgenie.agents.tools.parsing.terraform_resolve import parse_resolved

ROOT = Path(__file__).parents[3] / "fixtures" / "tf_resolve"


def _findings(rel: str) -> list[tuple[str, str | None, int, str | None]]:
    tf = parse_resolved(ROOT / rel, rel)
    assert isinstance(tf, TerraformFile), tf
    return sorted(
        (f.rule_id, f.file, f.line or 0, f.resource) for f in TERRAFORM_RULES.run(tf, None)
    )


def test_values_resolved_and_pointed_at_the_line_that_decides_them() -> None:
    assert _findings("root/main.tf") == [
        # acl = var.acl, default "public-read": the default decides
        ("LG-TF-001", "root/main.tf", 26, "module.logs.aws_s3_bucket_acl.this"),
        ("LG-TF-001", "root/variables.tf", 3, "aws_s3_bucket.site"),
        # cidr_blocks = var.admin_cidrs: the tfvars overrides a private default
        ("LG-TF-002", "root/terraform.tfvars", 2, "aws_security_group.ssh"),
        ("LG-TF-003", "root/main.tf", 5, "aws_s3_bucket.site"),
        ("LG-TF-003", "root/terraform.tfvars", 1, "aws_db_instance.db"),
        # publicly_accessible = local.db_public
        ("LG-TF-004", "root/main.tf", 2, "aws_db_instance.db"),
    ]


def test_module_files_alone_and_a_module_outside_the_root() -> None:
    # the module's own default is private; the call's "public-read-write" is reported at the call
    assert _findings("root/modules/bucket/main.tf") == []
    # `source = "../../"` leaves the scanned root: not followed
    assert not any("outside" in (r or "") for *_, r in _findings("root/main.tf"))


def test_safe_values_stay_silent() -> None:
    assert _findings("clean/main.tf") == []


def test_cycles_missing_values_and_broken_tfvars_stay_unknown() -> None:
    # `local.a` -> `local.b` -> `local.a`; a variable without a default; an unclosed string in
    # terraform.tfvars: nothing is judged, nothing raises
    assert _findings("odd/main.tf") == []


def test_a_symlink_out_of_the_target_is_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    target = tmp_path / "target"
    outside.mkdir()
    target.mkdir()
    (outside / "vars.tf").write_text('variable "acl" {\n  default = "public-read"\n}\n')
    (target / "main.tf").write_text(
        'resource "aws_s3_bucket_acl" "b" {\n  bucket = "b"\n  acl    = var.acl\n}\n'
    )
    (target / "vars.tf").symlink_to(outside / "vars.tf")
    tf = parse_resolved(target / "main.tf", "main.tf")
    assert isinstance(tf, TerraformFile)
    assert [f.rule_id for f in TERRAFORM_RULES.run(tf, None)] == []
    (target / "vars.tf").unlink()
    (target / "vars.tf").write_text((outside / "vars.tf").read_text())
    tf = parse_resolved(target / "main.tf", "main.tf")
    assert isinstance(tf, TerraformFile)
    assert [f.rule_id for f in TERRAFORM_RULES.run(tf, None)] == ["LG-TF-001"]
