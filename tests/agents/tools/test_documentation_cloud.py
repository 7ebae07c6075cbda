"""Terraform cloud resources in the service catalogue, with the findings that concern them."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools import scan_detailed
from llmgenie.agents.tools.scanning import clear_scan_cache
from llmgenie.core.models import severity_counts

MAIN_TF = """\
resource "aws_s3_bucket" "logs" {
  bucket = "acme-logs"
  acl    = "public-read"
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_db_instance" "orders" {
  engine         = "postgres"
  instance_class = "db.t3.micro"
}

resource "aws_eks_cluster" "main" {
  name     = "main"
  role_arn = aws_iam_role.cluster.arn
}

resource "aws_sqs_queue" "jobs" {
  name = "jobs"
}

resource "aws_iam_role" "cluster" {
  name = "eks-cluster"
}

resource "random_pet" "suffix" {}
"""


def test_buckets_databases_clusters_queues_and_roles_are_catalogued(tmp_path: Path) -> None:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "main.tf").write_text(MAIN_TF)
    clear_scan_cache()
    result = scan_detailed(tmp_path, ["security", "documentation"])
    public = [
        f
        for f in result.per_agent["security"].findings
        if f.resource == "aws_s3_bucket.logs" and f.severity.value in {"high", "critical"}
    ]
    assert public  # the catalogue row below must count it
    md = result.per_agent["documentation"].output["catalogue_md"]
    section = md[md.index("## Cloud resources (Terraform)") :]
    rows = [
        ln for ln in section.splitlines() if ln.startswith("| aws_") or ln.startswith("| random")
    ]
    assert [r.split(" | ")[:3] for r in rows] == [
        ["| aws_s3_bucket.logs", "bucket", "`infra/main.tf:1`"],
        ["| aws_db_instance.orders", "database", "`infra/main.tf:13`"],
        ["| aws_eks_cluster.main", "cluster", "`infra/main.tf:18`"],
        ["| aws_sqs_queue.jobs", "queue", "`infra/main.tf:23`"],
        ["| aws_iam_role.cluster", "IAM role", "`infra/main.tf:27`"],
    ]  # the versioning configuration and the random_pet are not cloud resources of their own
    for row in rows:  # each row counts the findings on its resource, by severity
        address = row.split(" | ")[0].removeprefix("| ")
        mine = severity_counts(
            f for f in result.per_agent["security"].findings if f.resource == address
        )
        cell = ", ".join(f"{n} {s}" for s, n in mine.items()) or "none found"
        assert row.endswith(f" | {cell} |"), row
    assert "5 cloud resource(s)" in md
