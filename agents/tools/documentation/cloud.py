"""The cloud resources a target's Terraform declares, by what they are, for the catalogue."""

from __future__ import annotations

from typing import Any

from llmgenie.core.models import FileKind

from ..parsing.terraform import TerraformFile, parse_terraform
from ..scanning import Scan

__all__ = ["CLOUD_KINDS", "cloud_resources"]

#: Terraform resource types a platform team looks for in a catalogue, by what they are. Only the
#: resources themselves: their policies, ACLs and configurations are findings, not rows.
CLOUD_KINDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "aws_s3_bucket",
            "aws_s3_directory_bucket",
            "aws_s3tables_table_bucket",
            "aws_s3vectors_vector_bucket",
            "google_storage_bucket",
            "azurerm_storage_account",
            "azurerm_storage_container",
        ),
        "bucket",
    ),
    **dict.fromkeys(
        (
            "aws_db_instance",
            "aws_rds_cluster",
            "aws_dynamodb_table",
            "aws_elasticache_cluster",
            "aws_elasticache_replication_group",
            "aws_docdb_cluster",
            "aws_redshift_cluster",
            "google_sql_database_instance",
            "google_spanner_instance",
            "google_bigtable_instance",
            "azurerm_postgresql_flexible_server",
            "azurerm_mysql_flexible_server",
            "azurerm_mssql_server",
            "azurerm_cosmosdb_account",
        ),
        "database",
    ),
    **dict.fromkeys(
        (
            "aws_eks_cluster",
            "aws_ecs_cluster",
            "aws_msk_cluster",
            "google_container_cluster",
            "azurerm_kubernetes_cluster",
        ),
        "cluster",
    ),
    **dict.fromkeys(
        (
            "aws_sqs_queue",
            "aws_sns_topic",
            "aws_kinesis_stream",
            "google_pubsub_topic",
            "google_pubsub_subscription",
            "azurerm_servicebus_queue",
            "azurerm_servicebus_topic",
            "azurerm_eventhub",
        ),
        "queue",
    ),
    **dict.fromkeys(
        (
            "aws_iam_role",
            "aws_iam_user",
            "google_service_account",
            "azurerm_user_assigned_identity",
        ),
        "IAM role",
    ),
}


def cloud_resources(scan: Scan, files: list[Any]) -> list[dict[str, Any]]:
    """`{"kind", "type", "resource", "file", "line"}` for each catalogued resource of the
    Terraform files among `files` (the context's), parsed once per scan."""
    out: list[dict[str, Any]] = []
    for f in files:
        if f.kind is not FileKind.terraform:
            continue
        for tf in scan.parsed("terraform", f.path, parse_terraform):
            if not isinstance(tf, TerraformFile):
                continue
            for b in tf.resources(*CLOUD_KINDS):
                out.append(
                    {
                        "kind": CLOUD_KINDS[str(b.type)],
                        "type": b.type,
                        "resource": b.address,
                        "file": tf.file,
                        "line": b.line,
                    }
                )
    return out
