"""Terraform rules: exact rule ids, resources and lines on hand-checked modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.terraform import TERRAFORM_RULES
from llmgenie.agents.tools.parsing.base import ParseProblem
from llmgenie.agents.tools.parsing.terraform import (
    TerraformFile,
    parse_terraform,
    parse_terraform_text,
)
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.core.models import Severity

TF = Path(__file__).parents[3] / "fixtures" / "terraform"
#: The rules read a module's sibling files only when the walker accepted them.
CTX = ScanContext(
    root=TF, accepted=frozenset(p.relative_to(TF).as_posix() for p in TF.rglob("*.tf"))
)


def _findings(rel: str, keep_suppressed: bool = False) -> list[tuple[str, int, str | None]]:
    tf = parse_terraform(TF / rel, rel)
    assert isinstance(tf, TerraformFile), tf
    return sorted(
        (f.rule_id, f.line or 0, f.resource)
        for f in TERRAFORM_RULES.run(tf, CTX)
        if keep_suppressed or not tf.is_suppressed(f.rule_id, f.line)
    )


def _text(text: str) -> set[tuple[str, int]]:
    tf = parse_terraform_text(text, "main.tf")
    assert isinstance(tf, TerraformFile), tf
    return {(f.rule_id, f.line or 0) for f in TERRAFORM_RULES.run(tf, CTX)}


def test_insecure_module() -> None:
    assert _findings("insecure/main.tf") == [
        ("LG-TF-001", 3, "aws_s3_bucket.public"),
        ("LG-TF-001", 8, "aws_s3_bucket_acl.rw"),
        ("LG-TF-001", 14, "aws_s3_bucket_public_access_block.off"),
        ("LG-TF-001", 110, "google_storage_bucket_iam_member.public"),
        ("LG-TF-002", 30, "aws_security_group.web"),
        ("LG-TF-002", 38, "aws_security_group.web"),
        ("LG-TF-002", 46, "aws_security_group_rule.rdp"),
        ("LG-TF-002", 55, "aws_vpc_security_group_ingress_rule.all"),
        ("LG-TF-002", 117, "google_compute_firewall.ssh"),
        ("LG-TF-003", 1, "aws_s3_bucket.public"),
        ("LG-TF-003", 61, "aws_ebs_volume.data"),
        ("LG-TF-003", 69, "aws_db_instance.db"),
        ("LG-TF-003", 73, "aws_rds_cluster.aurora"),
        ("LG-TF-004", 70, "aws_db_instance.db"),
        ("LG-TF-005", 79, "aws_iam_policy.admin"),
        ("LG-TF-005", 91, "aws_iam_role_policy.heredoc"),
        ("LG-TF-005", 101, "data.aws_iam_policy_document.doc"),
    ]


def test_categories_and_severities() -> None:
    tf = parse_terraform(TF / "insecure/main.tf", "main.tf")
    assert isinstance(tf, TerraformFile)
    findings = list(TERRAFORM_RULES.run(tf, CTX))
    assert {f.rule_id: f.category for f in findings} == {
        "LG-TF-001": "tf.public-bucket",
        "LG-TF-002": "tf.open-ingress",
        "LG-TF-003": "tf.unencrypted-storage",
        "LG-TF-004": "tf.rds-public",
        "LG-TF-005": "tf.iam-wildcard",
    }
    ingress = {f.line: f.severity for f in findings if f.rule_id == "LG-TF-002"}
    assert ingress[30] is Severity.critical  # SSH
    assert ingress[38] is Severity.high  # PostgreSQL to ::/0
    assert ingress[46] is Severity.critical  # range 3000-4000 covers RDP 3389


def test_secure_module_with_encryption_in_a_sibling_file() -> None:
    assert _findings("secure/main.tf") == []
    assert _findings("secure/encryption.tf") == []


def test_suppression_comments() -> None:
    assert _findings("suppressed/main.tf") == [("LG-TF-002", 27, "aws_security_group.other")]
    assert len(_findings("suppressed/main.tf", keep_suppressed=True)) == 5


def test_invalid_hcl_is_a_parse_problem_with_a_line() -> None:
    problem = parse_terraform(TF / "broken/main.tf", "broken/main.tf")
    assert isinstance(problem, ParseProblem)
    assert problem.reason.startswith("invalid HCL") and problem.line == 3


@pytest.mark.parametrize("data", [b"\x00\x01binary", b"resource \xff\xfe {}"])
def test_binary_and_invalid_utf8(tmp_path: Path, data: bytes) -> None:
    p = tmp_path / "x.tf"
    p.write_bytes(data)
    assert isinstance(parse_terraform(p, "x.tf"), ParseProblem)


@pytest.mark.parametrize(
    ("ingress", "fires"),
    [
        ('from_port = 443\n to_port = 443\n protocol = "tcp"\n cidr_blocks = ["0.0.0.0/0"]', False),
        ('from_port = 80\n to_port = 80\n protocol = "tcp"\n cidr_blocks = ["0.0.0.0/0"]', False),
        ('from_port = 80\n to_port = 443\n protocol = "tcp"\n cidr_blocks = ["0.0.0.0/0"]', True),
        ('from_port = 0\n to_port = 65535\n protocol = "tcp"\n cidr_blocks = ["0.0.0.0/0"]', True),
        (
            'from_port = 3389\n to_port = 3389\n protocol = "tcp"\n cidr_blocks = ["10.1.0.0/16"]',
            False,
        ),
        ('from_port = 22\n to_port = 22\n protocol = "tcp"\n cidr_blocks = var.cidrs', False),
        ('from_port = -1\n to_port = -1\n protocol = "icmp"\n cidr_blocks = ["0.0.0.0/0"]', False),
        ('from_port = 0\n to_port = 0\n protocol = "-1"\n cidr_blocks = ["0.0.0.0/0"]', True),
    ],
)
def test_open_ingress_edges(ingress: str, fires: bool) -> None:
    text = f'resource "aws_security_group" "sg" {{\n  ingress {{\n {ingress}\n  }}\n}}\n'
    assert _text(text) == ({("LG-TF-002", 2)} if fires else set())


def test_expressions_are_not_judged() -> None:
    text = (
        'resource "aws_ebs_volume" "v" {\n  size = 1\n  encrypted = var.encrypt\n}\n'
        'resource "aws_db_instance" "d" {\n  storage_encrypted = local.enc\n'
        "  publicly_accessible = var.public\n}\n"
    )
    assert _text(text) == set()


def test_account_wide_ebs_encryption() -> None:
    text = (
        'resource "aws_ebs_encryption_by_default" "on" {\n  enabled = true\n}\n'
        'resource "aws_ebs_volume" "v" {\n  size = 1\n}\n'
    )
    assert _text(text) == set()


def test_public_access_block_unset_flags_default_to_false() -> None:
    text = (
        'resource "aws_s3_bucket_public_access_block" "p" {\n'
        '  bucket = "b"\n  block_public_acls = true\n}\n'
    )
    assert _text(text) == {("LG-TF-001", 1)}


def test_terraform_json_syntax() -> None:
    text = (
        '{"resource": {"aws_db_instance": {"db": '
        '{"publicly_accessible": true, "storage_encrypted": true}}}}'
    )
    tf = parse_terraform_text(text, "main.tf.json")
    assert isinstance(tf, TerraformFile)
    assert [(f.rule_id, f.resource) for f in TERRAFORM_RULES.run(tf, CTX)] == [
        ("LG-TF-004", "aws_db_instance.db")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'resource "aws_s3_bucket_policy" "p" {\n  bucket = "b"\n  policy = jsonencode({\n'
            '    Statement = [{ Effect = "Allow", Principal = "*", Action = "s3:GetObject",'
            ' Resource = "arn:aws:s3:::b/*" }]\n  })\n}\n',
            {("LG-TF-001", 3)},
        ),
        (
            'resource "aws_s3_bucket_policy" "p" {\n  bucket = "b"\n  policy = jsonencode({\n'
            '    Statement = [{ Effect = "Allow", Principal = { AWS = "*" }, Action = "s3:*",'
            ' Resource = "*", Condition = { IpAddress = { "aws:SourceIp" = "10.0.0.0/8" } } }]\n'
            "  })\n}\n",
            set(),
        ),
        (
            'resource "aws_s3_bucket_policy" "p" {\n  bucket = "b"\n  policy = <<EOT\n'
            '{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, '
            '"Action": "s3:GetObject"}]}\n'
            "EOT\n}\n",
            {("LG-TF-001", 3)},
        ),
        (
            'resource "aws_instance" "i" {\n  ami = "x"\n'
            "  root_block_device {\n    volume_size = 8\n  }\n}\n",
            {("LG-TF-003", 3)},
        ),
        (
            'resource "aws_instance" "i" {\n  ami = "x"\n'
            "  root_block_device {\n    encrypted = true\n  }\n}\n",
            set(),
        ),
        ('resource "aws_instance" "i" {\n  ami = "x"\n}\n', set()),
        (
            'resource "aws_redshift_cluster" "r" {\n  cluster_identifier = "r"\n}\n',
            {("LG-TF-003", 1)},
        ),
        (
            'resource "aws_elasticache_replication_group" "r" {\n'
            "  at_rest_encryption_enabled = true\n}\n",
            set(),
        ),
    ],
)
def test_more_resources(text: str, expected: set[tuple[str, int]]) -> None:
    assert _text(text) == expected
