"""Terraform parsing: block addresses, lines, spans, module siblings, errors."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.parsing.base import ParseProblem
from llmgenie.agents.tools.parsing.terraform import (
    TerraformFile,
    is_expression,
    parse_terraform,
    parse_terraform_text,
    truthy,
)

TF = Path(__file__).parents[3] / "fixtures" / "terraform"

TEXT = """\
variable "region" {
  default = "eu-west-1"
}

resource "aws_security_group" "web" {
  name = "web-${var.env}"
  ingress {
    from_port = 443
  }
  ingress {
    from_port = 22
    description = "a { brace in a string"
  }
}

data "aws_iam_policy_document" "d" {
  statement {
    actions = ["s3:GetObject"]
  }
}

module "vpc" {
  source = "./vpc"
}
"""


def test_blocks_addresses_and_spans() -> None:
    tf = parse_terraform_text(TEXT, "main.tf")
    assert isinstance(tf, TerraformFile)
    assert [(b.address, b.line, b.end_line) for b in tf.blocks] == [
        ("variable.region", 1, 3),
        ("aws_security_group.web", 5, 14),
        ("data.aws_iam_policy_document.d", 16, 20),
        ("module.vpc", 22, 24),
    ]
    sg = next(tf.resources("aws_security_group"))
    assert [r["from_port"] for r in sg.nested("ingress")] == [443, 22]
    assert sg.line_of("ingress", 1) == 10 and sg.line_of("name") == 6
    assert sg.line_of("absent") == 5
    assert is_expression(sg.get("name"))


def test_truthy() -> None:
    assert truthy(True) is True and truthy("false") is False
    assert truthy("${var.x}") is None and truthy(None) is None


def test_module_blocks_include_sibling_files() -> None:
    tf = parse_terraform(TF / "secure" / "main.tf", "secure/main.tf")
    assert isinstance(tf, TerraformFile)
    types = {b.type for b in tf.module_blocks(["secure/main.tf", "secure/encryption.tf"])}
    assert "aws_s3_bucket_server_side_encryption_configuration" in types


def test_ignore_comments() -> None:
    tf = parse_terraform(TF / "suppressed" / "main.tf", "suppressed/main.tf")
    assert isinstance(tf, TerraformFile)
    assert tf.is_suppressed("LG-TF-003", 40)  # leading comment block: whole file
    assert tf.is_suppressed("LG-TF-002", 18) and not tf.is_suppressed("LG-TF-002", 27)


def test_errors() -> None:
    problem = parse_terraform_text('resource "a" "b" {\n  x = \n}\n', "bad.tf")
    assert isinstance(problem, ParseProblem) and problem.reason.startswith("invalid HCL")
    deep = "locals {\n  x = " + "[" * 5000 + "]" * 5000 + "\n}\n"
    assert isinstance(parse_terraform_text(deep, "deep.tf"), (ParseProblem, TerraformFile))
    assert isinstance(parse_terraform_text("[1, 2]", "x.tf.json"), ParseProblem)
