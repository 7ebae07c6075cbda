"""Wider Terraform rules (AWS, GCP, Azure): each fires on one fixture, none on the other."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.checks.terraform import TERRAFORM_RULES
from llmgenie.agents.tools.checks.terraform_cloud import TERRAFORM_CLOUD_RULES
from llmgenie.agents.tools.parsing.terraform import TerraformFile
from llmgenie.agents.tools.parsing.terraform_resolve import parse_resolved

ROOT = Path(__file__).parents[3] / "fixtures" / "tf_cloud"
CORPUS = ROOT / "corpus" / "terraform-aws-s3-bucket"


def _hits(root: Path, rel: str) -> list[tuple[str, int]]:
    tf = parse_resolved(root / rel, rel)
    assert isinstance(tf, TerraformFile), tf
    return sorted((f.rule_id, f.line or 0) for f in TERRAFORM_CLOUD_RULES.run(tf, None))


def test_every_rule_fires_on_the_insecure_fixture() -> None:
    assert _hits(ROOT, "insecure/main.tf") == [
        ("LG-TF-010", 1), ("LG-TF-010", 71),
        ("LG-TF-011", 5), ("LG-TF-011", 5), ("LG-TF-012", 5), ("LG-TF-013", 8),
        ("LG-TF-014", 24), ("LG-TF-015", 31), ("LG-TF-015", 32), ("LG-TF-015", 39),
        ("LG-TF-016", 11), ("LG-TF-017", 11), ("LG-TF-018", 42), ("LG-TF-019", 50),
        ("LG-TF-020", 56), ("LG-TF-021", 59), ("LG-TF-022", 63), ("LG-TF-023", 67),
        ("LG-TF-024", 76), ("LG-TF-024", 76), ("LG-TF-025", 85), ("LG-TF-026", 89),
        ("LG-TF-027", 13), ("LG-TF-027", 29), ("LG-TF-027", 37), ("LG-TF-028", 96),
        ("LG-TF-029", 100), ("LG-TF-030", 100), ("LG-TF-031", 100), ("LG-TF-032", 104),
        ("LG-TF-033", 109), ("LG-TF-033", 113), ("LG-TF-034", 63),
    ]  # fmt: skip
    assert {r.id for r in TERRAFORM_CLOUD_RULES.rules} == {
        i for i, _ in _hits(ROOT, "insecure/main.tf")
    }


def test_no_rule_fires_on_the_secure_fixture() -> None:
    assert _hits(ROOT, "secure/main.tf") == []


def test_every_rule_has_a_checkov_reference() -> None:
    for r in TERRAFORM_CLOUD_RULES.rules:
        assert any(ref.startswith("CKV") for ref in r.references), r.id


#: terraform-aws-s3-bucket, every finding of the Terraform rules, labelled by hand (all true:
#: keys without rotation in the examples, the account-level public-access block module whose
#: variables default to false). The bucket's encryption configuration names it as
#: `aws_s3_bucket.this[0].id`: no finding.
S3_MODULE = {
    ("examples/complete/main.tf", "LG-TF-010", "examples/complete/main.tf", 27),
    ("examples/directory-bucket/main.tf", "LG-TF-010", "examples/directory-bucket/main.tf", 117),
    ("examples/object/main.tf", "LG-TF-010", "examples/object/main.tf", 100),
    ("examples/s3-replication/main.tf", "LG-TF-010", "examples/s3-replication/main.tf", 34),
    (
        "modules/account-public-access/main.tf",
        "LG-TF-001",
        "modules/account-public-access/variables.tf",
        16,
    ),
}


def test_labelled_findings_on_terraform_aws_s3_bucket() -> None:
    found = set()
    for p in sorted(CORPUS.rglob("*.tf")):
        rel = p.relative_to(CORPUS).as_posix()
        tf = parse_resolved(p, rel)
        assert isinstance(tf, TerraformFile), tf
        for rules in (TERRAFORM_RULES, TERRAFORM_CLOUD_RULES):
            found |= {(rel, f.rule_id, f.file, f.line) for f in rules.run(tf, None)}
    assert found == S3_MODULE
