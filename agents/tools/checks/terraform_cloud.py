"""More Terraform rules (`tf.*`) over AWS, Google Cloud and Azure, on resolved values.

Most rules check one setting whose insecure value is stated, or left to an insecure provider
default (`_SETTINGS`, one row each). A value still an expression after resolution (a function,
a conditional) is unknown and never judged. References: the checkov id and, where one exists,
the CIS benchmark section.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from llmgenie.core.models import Severity

from ..parsing.terraform import TerraformFile, TfBlock, is_expression, truthy
from ..registry import Registry
from ..rules import Hit
from .terraform_common import TfRuleSet, at, register_parser

__all__ = ["TERRAFORM_CLOUD_RULES"]

TERRAFORM_CLOUD_RULES = TfRuleSet(agent="security")

_WORLD = frozenset({"0.0.0.0/0", "::/0", "*", "Internet", "Any", "any", "0.0.0.0"})
_SECRET_NAME = re.compile(r"(passw(or)?d|secret|token|api_?key|private_?key|access_?key)", re.I)
_PLACEHOLDER = re.compile(r"^(|changeme|change-me|todo|xxx+|none|null|example|\*+|<.*>)$", re.I)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class _Setting:
    """One setting of one resource type: `key` is `attr` or `block.attr` (first nested block)."""

    types: tuple[str, ...]
    key: str
    bad: Callable[[Any], bool]
    evidence: str


def _value(b: TfBlock, key: str) -> tuple[Any, dict[str, Any]]:
    block, _, attr = key.rpartition(".")
    if not block:
        return b.get(attr), at(b, attr)
    nested = b.nested(block)
    if not nested:
        return None, at(b)
    return nested[0].get(attr), at(b, attr, 0, within=block)


def _not_true(value: Any) -> bool:
    return truthy(value) is not True


def _is_true(value: Any) -> bool:
    return truthy(value) is True


def _is_false(value: Any) -> bool:
    return truthy(value) is False


def _unset(value: Any) -> bool:
    return value is None or value == ""


def _setting_rule(
    id: str,
    category: str,
    severity: Severity,
    title: str,
    message: str,
    remediation: str,
    references: list[str],
    *settings: _Setting,
) -> None:
    def check(tf: TerraformFile, ctx: Any) -> Iterator[Hit]:
        for s in settings:
            for b in tf.resources(*s.types):
                value, where = _value(b, s.key)
                if is_expression(value) or any(is_expression(v) for v in _as_list(value)):
                    continue
                if s.bad(value):
                    yield Hit(**where, evidence=s.evidence.format(value=_shown(value)))

    TERRAFORM_CLOUD_RULES.rule(
        id,
        category=category,
        severity=severity,
        title=title,
        message=message,
        remediation=remediation,
        references=references,
    )(check)


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


# --- settings, one rule each --------------------------------------------------------------------

_setting_rule(
    "LG-TF-010",
    "tf.key-rotation",
    Severity.medium,
    "Encryption key never rotated",
    "The customer-managed key keeps the same key material for ever: a leaked key stays useful.",
    "Set `enable_key_rotation = true` (AWS KMS) or a `rotation_period` (Cloud KMS, ≤ 90 days).",
    ["CKV_AWS_7", "CKV_GCP_43", "CIS AWS 3.6", "CIS GCP 1.10"],
    _Setting(("aws_kms_key",), "enable_key_rotation", _not_true, "enable_key_rotation = {value}"),
    _Setting(("google_kms_crypto_key",), "rotation_period", _unset, "rotation_period = {value}"),
)
_setting_rule(
    "LG-TF-011",
    "tf.audit-trail",
    Severity.medium,
    "Audit trail not validated or single-region",
    "The CloudTrail trail misses log file validation or covers one region only: tampering "
    "with the audit log, or activity in another region, goes unseen.",
    "Set `enable_log_file_validation = true` and `is_multi_region_trail = true`.",
    ["CKV_AWS_36", "CKV_AWS_67", "CIS AWS 3.1", "CIS AWS 3.2"],
    _Setting(
        ("aws_cloudtrail",),
        "enable_log_file_validation",
        _not_true,
        "enable_log_file_validation = {value}",
    ),
    _Setting(
        ("aws_cloudtrail",), "is_multi_region_trail", _not_true, "is_multi_region_trail = {value}"
    ),
)
_setting_rule(
    "LG-TF-012",
    "tf.audit-trail",
    Severity.medium,
    "Audit trail logs not encrypted with KMS",
    "CloudTrail logs are encrypted with S3-managed keys only: anyone who can read the bucket "
    "reads the account's audit log.",
    "Set `kms_key_id` to a customer-managed KMS key.",
    ["CKV_AWS_35", "CIS AWS 3.5"],
    _Setting(("aws_cloudtrail",), "kms_key_id", _unset, "kms_key_id = {value}"),
)
_setting_rule(
    "LG-TF-013",
    "tf.audit-trail",
    Severity.low,
    "Trail logging switched off",
    "The CloudTrail trail exists but `enable_logging = false`: no API activity is recorded.",
    "Remove `enable_logging = false`.",
    ["CKV_AWS_251", "CIS AWS 3.1"],
    _Setting(("aws_cloudtrail",), "enable_logging", _is_false, "enable_logging = {value}"),
)
_setting_rule(
    "LG-TF-014",
    "tf.k8s-public-endpoint",
    Severity.high,
    "Kubernetes API endpoint open to the internet",
    "The cluster's API server is reachable from any address: every credential leak or API "
    "vulnerability is exploitable from the whole internet.",
    "Make the endpoint private, or restrict it to known ranges (`public_access_cidrs`, "
    "`master_authorized_networks_config`, `api_server_access_profile`).",
    ["CKV_AWS_38", "CKV_AWS_39", "CKV_GCP_20", "CKV_AZURE_6", "CIS EKS 5.4.2", "CIS GKE 5.6.3"],
    _Setting(
        ("aws_eks_cluster",),
        "vpc_config.public_access_cidrs",
        lambda v: bool(set(map(str, _as_list(v))) & _WORLD),
        "vpc_config.public_access_cidrs = {value}",
    ),
    _Setting(
        ("google_container_cluster",),
        "master_authorized_networks_config.cidr_blocks",
        lambda v: any(isinstance(c, dict) and c.get("cidr_block") in _WORLD for c in _as_list(v)),
        "master_authorized_networks_config allows 0.0.0.0/0",
    ),
)
_setting_rule(
    "LG-TF-015",
    "tf.k8s-legacy-auth",
    Severity.high,
    "Kubernetes cluster with legacy authorization or basic auth",
    "Legacy ABAC grants broad static permissions outside RBAC, and basic-auth or "
    "client-certificate credentials cannot be revoked.",
    "Set `enable_legacy_abac = false`, leave `master_auth` without username/password and "
    "client certificates; on AKS keep `role_based_access_control_enabled = true`.",
    ["CKV_GCP_7", "CKV_GCP_19", "CKV_AZURE_5", "CIS GKE 5.8.3"],
    _Setting(
        ("google_container_cluster",),
        "enable_legacy_abac",
        _is_true,
        "enable_legacy_abac = {value}",
    ),
    _Setting(
        ("google_container_cluster",),
        "master_auth.username",
        lambda v: isinstance(v, str) and v != "",
        "master_auth.username = {value}",
    ),
    _Setting(
        ("azurerm_kubernetes_cluster",),
        "role_based_access_control_enabled",
        _is_false,
        "role_based_access_control_enabled = {value}",
    ),
)
_setting_rule(
    "LG-TF-016",
    "tf.k8s-secrets-unencrypted",
    Severity.medium,
    "Kubernetes Secrets not envelope-encrypted",
    "The EKS cluster has no `encryption_config`: Secrets in etcd are protected by the "
    "provider's disk encryption only.",
    'Add `encryption_config { resources = ["secrets"] provider { key_arn = … } }`.',
    ["CKV_AWS_58", "CIS EKS 5.3.1"],
    _Setting(
        ("aws_eks_cluster",),
        "encryption_config.resources",
        lambda v: v is None,
        "no encryption_config",
    ),
)
_setting_rule(
    "LG-TF-017",
    "tf.k8s-audit-logging",
    Severity.low,
    "Kubernetes control-plane logs off",
    "The EKS cluster sends no control-plane logs (api, audit, authenticator) to CloudWatch: "
    "who did what on the cluster is not recorded.",
    'Set `enabled_cluster_log_types = ["api", "audit", "authenticator"]`.',
    ["CKV_AWS_37", "CIS EKS 2.1.1"],
    _Setting(
        ("aws_eks_cluster",),
        "enabled_cluster_log_types",
        lambda v: "audit" not in _as_list(v),
        "enabled_cluster_log_types = {value}",
    ),
)
_setting_rule(
    "LG-TF-018",
    "tf.imds-v1",
    Severity.medium,
    "Instance metadata reachable without a token",
    "IMDSv1 answers any request from the instance: an SSRF in a workload hands out the "
    "instance role's credentials.",
    'Set `metadata_options { http_tokens = "required" }`.',
    ["CKV_AWS_79", "CIS AWS 5.6"],
    _Setting(
        ("aws_instance", "aws_launch_template"),
        "metadata_options.http_tokens",
        lambda v: v != "required",
        "metadata_options.http_tokens = {value}",
    ),
)
_setting_rule(
    "LG-TF-019",
    "tf.iam-user-policy",
    Severity.low,
    "IAM policy attached to a user",
    "Permissions granted to a user directly are hard to audit and to revoke: grant them to "
    "groups or roles.",
    "Attach the policy to a group (aws_iam_group_policy_attachment) or a role.",
    ["CKV_AWS_40", "CIS AWS 1.15"],
    _Setting(
        ("aws_iam_user_policy", "aws_iam_user_policy_attachment"),
        "user",
        lambda v: True,
        "policy attached to user {value}",
    ),
)
_setting_rule(
    "LG-TF-020",
    "tf.plaintext-transport",
    Severity.medium,
    "Traffic accepted in clear text",
    "The listener, distribution or storage account accepts plain HTTP: credentials and data "
    "cross the network unencrypted.",
    'Use HTTPS (redirect HTTP to HTTPS, `viewer_protocol_policy = "redirect-to-https"`, '
    "`https_traffic_only_enabled = true`).",
    ["CKV_AWS_2", "CKV_AWS_34", "CKV_AZURE_3", "CIS Azure 3.1"],
    _Setting(
        ("aws_lb_listener", "aws_alb_listener"),
        "protocol",
        lambda v: v == "HTTP",
        "protocol = {value}",
    ),
    _Setting(
        ("aws_cloudfront_distribution",),
        "default_cache_behavior.viewer_protocol_policy",
        lambda v: v == "allow-all",
        "viewer_protocol_policy = {value}",
    ),
    _Setting(
        ("azurerm_storage_account",),
        "enable_https_traffic_only",
        _is_false,
        "enable_https_traffic_only = {value}",
    ),
    _Setting(
        ("azurerm_storage_account",),
        "https_traffic_only_enabled",
        _is_false,
        "https_traffic_only_enabled = {value}",
    ),
)
_setting_rule(
    "LG-TF-021",
    "tf.unencrypted-messaging",
    Severity.low,
    "Topic not encrypted with KMS",
    "The SNS topic has no KMS key: messages are stored unencrypted at rest.",
    "Set `kms_master_key_id` (alias/aws/sns or a customer-managed key).",
    ["CKV_AWS_26"],
    _Setting(("aws_sns_topic",), "kms_master_key_id", _unset, "kms_master_key_id = {value}"),
)
_setting_rule(
    "LG-TF-022",
    "tf.mutable-image-tags",
    Severity.low,
    "Registry tags can be overwritten",
    "ECR tags are mutable: a pushed image can replace what `:v1.2` means under running "
    "deployments.",
    'Set `image_tag_mutability = "IMMUTABLE"`.',
    ["CKV_AWS_51"],
    _Setting(
        ("aws_ecr_repository",),
        "image_tag_mutability",
        lambda v: v != "IMMUTABLE",
        "image_tag_mutability = {value}",
    ),
)
_setting_rule(
    "LG-TF-034",
    "tf.image-scanning",
    Severity.low,
    "Registry images not scanned on push",
    "ECR does not scan pushed images: known vulnerabilities in them go unreported.",
    "Set `image_scanning_configuration { scan_on_push = true }` (or registry-wide scanning).",
    ["CKV_AWS_163"],
    _Setting(
        ("aws_ecr_repository",),
        "image_scanning_configuration.scan_on_push",
        _not_true,
        "image_scanning_configuration.scan_on_push = {value}",
    ),
)
_setting_rule(
    "LG-TF-023",
    "tf.public-bucket",
    Severity.high,
    "Bucket allows public or non-uniform access",
    "The bucket allows per-object ACLs or public blobs: objects can be made public one by one, "
    "outside any bucket-level review.",
    "Set `uniform_bucket_level_access = true` (GCS) and `allow_nested_items_to_be_public = "
    "false` (Azure).",
    ["CKV_GCP_29", "CKV_AZURE_190", "CIS GCP 5.2", "CIS Azure 3.7"],
    _Setting(
        ("google_storage_bucket",),
        "uniform_bucket_level_access",
        _not_true,
        "uniform_bucket_level_access = {value}",
    ),
    _Setting(
        ("azurerm_storage_account",),
        "allow_nested_items_to_be_public",
        _is_true,
        "allow_nested_items_to_be_public = {value}",
    ),
    _Setting(
        ("azurerm_storage_account",),
        "allow_blob_public_access",
        _is_true,
        "allow_blob_public_access = {value}",
    ),
)
_setting_rule(
    "LG-TF-024",
    "tf.db-public",
    Severity.high,
    "Database open to the internet",
    "The database accepts connections from any address or without TLS.",
    "Remove 0.0.0.0/0 from `authorized_networks`, require SSL, and reach the database privately.",
    ["CKV_GCP_11", "CKV_GCP_6", "CKV_AZURE_11", "CIS GCP 6.5", "CIS Azure 4.1.2"],
    _Setting(
        ("google_sql_database_instance",),
        "settings.ip_configuration",
        lambda v: any(
            isinstance(c, dict)
            and any(
                isinstance(n, dict) and n.get("value") in _WORLD
                for n in _as_list(c.get("authorized_networks"))
            )
            for c in _as_list(v)
        ),
        "ip_configuration.authorized_networks has 0.0.0.0/0",
    ),
    _Setting(
        ("google_sql_database_instance",),
        "settings.ip_configuration",
        lambda v: any(
            isinstance(c, dict)
            and truthy(c.get("ipv4_enabled", True)) is not False
            and truthy(c.get("require_ssl")) is not True
            and c.get("ssl_mode") not in ("ENCRYPTED_ONLY", "TRUSTED_CLIENT_CERTIFICATE_REQUIRED")
            for c in _as_list(v)
        ),
        "ip_configuration: public IP without require_ssl / ssl_mode",
    ),
    _Setting(
        (
            "azurerm_sql_firewall_rule",
            "azurerm_mssql_firewall_rule",
            "azurerm_postgresql_firewall_rule",
            "azurerm_mysql_firewall_rule",
        ),
        "end_ip_address",
        lambda v: v == "255.255.255.255",
        "end_ip_address = {value}",
    ),
)
_setting_rule(
    "LG-TF-025",
    "tf.key-vault-purge",
    Severity.low,
    "Key vault without purge protection",
    "Deleted keys and secrets can be purged at once: a compromised or mistaken admin destroys "
    "them for good.",
    "Set `purge_protection_enabled = true`.",
    ["CKV_AZURE_110", "CKV_AZURE_42", "CIS Azure 8.5"],
    _Setting(
        ("azurerm_key_vault",),
        "purge_protection_enabled",
        _not_true,
        "purge_protection_enabled = {value}",
    ),
)
_setting_rule(
    "LG-TF-026",
    "tf.unencrypted-storage",
    Severity.medium,
    "Snapshot or backup not encrypted",
    "The snapshot copy, cluster or cache stores data unencrypted at rest.",
    "Set `encrypted = true` / `storage_encrypted = true` / `at_rest_encryption_enabled = true`.",
    ["CKV_AWS_29", "CKV_AWS_84", "CKV_AWS_64"],
    _Setting(("aws_ebs_snapshot_copy",), "encrypted", _not_true, "encrypted = {value}"),
    _Setting(
        ("aws_docdb_cluster", "aws_neptune_cluster"),
        "storage_encrypted",
        _not_true,
        "storage_encrypted = {value}",
    ),
    _Setting(
        ("aws_elasticsearch_domain", "aws_opensearch_domain"),
        "encrypt_at_rest.enabled",
        _not_true,
        "encrypt_at_rest.enabled = {value}",
    ),
)


# --- rules over more than one setting or resource -----------------------------------------------


@TERRAFORM_CLOUD_RULES.rule(
    "LG-TF-027",
    category="tf.k8s-public-endpoint",
    severity=Severity.high,
    title="Kubernetes API endpoint public to every address",
    message=(
        "The managed cluster's API endpoint is public and no allow-list restricts it (EKS "
        "defaults to 0.0.0.0/0, GKE without master authorized networks, AKS without "
        "authorized IP ranges)."
    ),
    remediation=(
        "Set `endpoint_public_access = false` (or `public_access_cidrs`), add "
        "`master_authorized_networks_config`, or `api_server_access_profile` ranges."
    ),
    references=[
        "CKV_AWS_38",
        "CKV_AWS_39",
        "CKV_GCP_20",
        "CKV_GCP_25",
        "CKV_AZURE_6",
        "CKV_AZURE_115",
    ],
)
def _k8s_public_default(tf: TerraformFile, ctx: Any) -> Iterator[Hit]:
    for b in tf.resources("aws_eks_cluster"):
        vpc = (b.nested("vpc_config") or [{}])[0]
        public, cidrs = vpc.get("endpoint_public_access"), vpc.get("public_access_cidrs")
        if is_expression(public) or truthy(public) is False or cidrs is not None:
            continue
        yield Hit(
            **at(b, "endpoint_public_access", 0, within="vpc_config"),
            evidence="endpoint_public_access = "
            + _shown(public).replace("unset", "unset (true)")
            + ", public_access_cidrs unset (0.0.0.0/0)",
        )
    for b in tf.resources("google_container_cluster"):
        private = (b.nested("private_cluster_config") or [{}])[0]
        if b.nested("master_authorized_networks_config") or truthy(
            private.get("enable_private_endpoint")
        ):
            continue
        yield Hit(**at(b), evidence="no master_authorized_networks_config")
    for b in tf.resources("azurerm_kubernetes_cluster"):
        profile = (b.nested("api_server_access_profile") or [{}])[0]
        if (
            b.get("api_server_authorized_ip_ranges") is not None
            or profile.get("authorized_ip_ranges") is not None
            or truthy(b.get("private_cluster_enabled")) is True
            or is_expression(b.get("private_cluster_enabled"))
        ):
            continue
        yield Hit(**at(b), evidence="no api_server_access_profile.authorized_ip_ranges")


_ADMIN = {22: "SSH", 3389: "RDP", 3306: "MySQL", 5432: "PostgreSQL", 1433: "SQL Server"}


def _ports(spec: Any) -> set[int]:
    out: set[int] = set()
    for item in _as_list(spec):
        text = str(item)
        if text == "*":
            return set(_ADMIN)
        low, _, high = text.partition("-")
        try:
            lo, hi = int(low), int(high or low)
        except ValueError:
            continue
        out |= {p for p in _ADMIN if lo <= p <= hi}
    return out


@TERRAFORM_CLOUD_RULES.rule(
    "LG-TF-028",
    category="tf.open-ingress",
    severity=Severity.critical,
    title="Network security rule opens an admin port to the internet",
    message=(
        "An inbound Allow rule lets any address reach SSH, RDP or a database port: these are "
        "scanned and brute-forced within minutes."
    ),
    remediation="Restrict the source prefix to known ranges; use Bastion or a VPN for admin.",
    references=["CKV_AZURE_9", "CKV_AZURE_10", "CIS Azure 6.1", "CIS Azure 6.2"],
)
def _azure_open_admin(tf: TerraformFile, ctx: Any) -> Iterator[Hit]:
    candidates: list[tuple[TfBlock, dict[str, Any], dict[str, Any]]] = []
    for b in tf.resources("azurerm_network_security_rule"):
        candidates.append((b, b.body, at(b, "source_address_prefix")))
    for b in tf.resources("azurerm_network_security_group"):
        for i, r in enumerate(b.nested("security_rule")):
            candidates.append((b, r, at(b, "source_address_prefix", i, within="security_rule")))
    for _b, r, where in candidates:
        if str(r.get("direction", "")).lower() != "inbound":
            continue
        if str(r.get("access", "")).lower() != "allow":
            continue
        sources = _as_list(r.get("source_address_prefix")) + _as_list(
            r.get("source_address_prefixes")
        )
        if not any(str(s) in _WORLD for s in sources):
            continue
        ports = _ports(r.get("destination_port_range")) | _ports(r.get("destination_port_ranges"))
        if ports:
            names = ", ".join(f"{_ADMIN[p]} {p}" for p in sorted(ports))
            yield Hit(**where, evidence=f"inbound Allow from {sources[0]} to {names}")


def _module(tf: TerraformFile, ctx: Any) -> list[TfBlock]:
    """The blocks of `tf`'s folder the walker accepted (only `tf`'s own without a scan)."""
    return tf.module_blocks(getattr(ctx, "accepted", ()))


def _bucket_refs(blocks: Iterable[TfBlock], type_: str) -> tuple[set[str], bool]:
    """Names of aws_s3_bucket resources that some `type_` resource configures, and whether one
    of them names its bucket by an expression that is not such a reference (unknown)."""
    names: set[str] = set()
    unknown = False
    for m in blocks:
        if m.block_type != "resource" or m.type != type_:
            continue
        target = str(m.get("bucket", ""))
        found = re.findall(r"\baws_s3_bucket\.([A-Za-z0-9_-]+)\b", target)
        names.update(found)
        unknown = unknown or (not found and is_expression(target))
    return names, unknown


def _bucket_rule(
    id: str,
    category: str,
    severity: Severity,
    title: str,
    message: str,
    remediation: str,
    references: list[str],
    companion: str,
    inline: str | None,
    evidence: str,
) -> None:
    def check(tf: TerraformFile, ctx: Any) -> Iterator[Hit]:
        buckets = list(tf.resources("aws_s3_bucket"))
        if not buckets:
            return
        names, unknown = _bucket_refs(_module(tf, ctx), companion)
        if unknown:
            return  # a companion for a bucket named by an expression: cannot tell which
        for b in buckets:
            if b.name in names or (inline and b.nested(inline)):
                continue
            yield Hit(**at(b), evidence=evidence)

    TERRAFORM_CLOUD_RULES.rule(
        id,
        category=category,
        severity=severity,
        title=title,
        message=message,
        remediation=remediation,
        references=references,
    )(check)


_bucket_rule(
    "LG-TF-029",
    "tf.bucket-versioning",
    Severity.low,
    "Bucket without versioning",
    "Objects overwritten or deleted in this bucket cannot be recovered: no versioning is "
    "configured for it.",
    'Add aws_s3_bucket_versioning with `status = "Enabled"` for the bucket.',
    ["CKV_AWS_21"],
    "aws_s3_bucket_versioning",
    "versioning",
    "no aws_s3_bucket_versioning for this bucket",
)
_bucket_rule(
    "LG-TF-030",
    "tf.access-logging",
    Severity.low,
    "Bucket without access logging",
    "Requests to this bucket are not logged: who read or changed which object cannot be found "
    "out after an incident.",
    "Add aws_s3_bucket_logging for the bucket (target: a dedicated log bucket).",
    ["CKV_AWS_18", "CIS AWS 3.8"],
    "aws_s3_bucket_logging",
    "logging",
    "no aws_s3_bucket_logging for this bucket",
)
_bucket_rule(
    "LG-TF-031",
    "tf.public-access-block",
    Severity.medium,
    "Bucket without a public-access block",
    "Nothing stops a later ACL or policy from making this bucket public: it has no "
    "aws_s3_bucket_public_access_block.",
    "Add aws_s3_bucket_public_access_block with all four settings true (or rely on an "
    "account-level block).",
    ["CKV2_AWS_6", "CIS AWS 2.1.4"],
    "aws_s3_bucket_public_access_block",
    None,
    "no aws_s3_bucket_public_access_block for this bucket",
)


@TERRAFORM_CLOUD_RULES.rule(
    "LG-TF-032",
    category="tf.vpc-flow-logs",
    severity=Severity.low,
    title="VPC without flow logs",
    message="Traffic in and out of this VPC is not logged: no trace to investigate an incident.",
    remediation="Add aws_flow_log with `vpc_id` set to this VPC.",
    references=["CKV2_AWS_11", "CIS AWS 3.9"],
)
def _vpc_flow_logs(tf: TerraformFile, ctx: Any) -> Iterator[Hit]:
    vpcs = list(tf.resources("aws_vpc"))
    if not vpcs:
        return
    logs = [m for m in _module(tf, ctx) if m.type == "aws_flow_log"]
    for b in vpcs:
        if any(
            re.search(rf"\baws_vpc\.{re.escape(b.name)}\b", str(m.get("vpc_id", ""))) for m in logs
        ):
            continue
        if any(
            is_expression(m.get("vpc_id")) and "aws_vpc." not in str(m.get("vpc_id")) for m in logs
        ):
            continue
        yield Hit(**at(b), evidence="no aws_flow_log for this VPC")


@TERRAFORM_CLOUD_RULES.rule(
    "LG-TF-033",
    category="tf.hardcoded-secret",
    severity=Severity.high,
    title="Secret written in the Terraform code",
    message=(
        "A password, token or access key is written as a variable default or provider "
        "argument: it is in the repository's history and in every plan output."
    ),
    remediation=(
        "Remove the default and pass the value from a secret store (TF_VAR_*, a data source "
        "on Secrets Manager / Key Vault); mark the variable `sensitive = true`."
    ),
    references=["CKV_AWS_41", "CKV_SECRET_6"],
)
def _hardcoded_secret(tf: TerraformFile, ctx: Any) -> Iterator[Hit]:
    for b in tf.blocks:
        if b.block_type == "variable" and _SECRET_NAME.search(b.name):
            value = b.get("default")
            if (
                isinstance(value, str)
                and not is_expression(value)
                and not _PLACEHOLDER.match(value)
            ) and len(value) >= 6:
                yield Hit(**at(b, "default"), evidence=f"variable {b.name} has a default")
        elif b.block_type == "provider":
            for key in ("access_key", "secret_key", "client_secret", "password", "token"):
                value = b.get(key)
                if isinstance(value, str) and not is_expression(value) and len(value) >= 6:
                    yield Hit(**at(b, key), evidence=f"provider {b.name} sets {key}")


def register(registry: Registry) -> None:
    """The `terraform.cloud` group: more AWS, Google Cloud and Azure misconfigurations."""
    register_parser(registry)
    registry.rules("terraform.cloud", "terraform", TERRAFORM_CLOUD_RULES)
