"""Terraform misconfiguration rules (`tf.*`), over a parsed `TerraformFile`.

Values that are expressions (`var.x`, `local.y`, conditionals) are unknown, never judged: a
rule fires on what the file states, or on a setting whose provider default is insecure and
that the file leaves out (an RDS instance without `storage_encrypted` is unencrypted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from llmgenie.core.models import Severity

from ..parsing.terraform import TerraformFile, TfBlock, is_expression, truthy
from ..registry import Registry
from ..rules import Hit
from .terraform_common import TfRuleSet, at, register_parser

__all__ = ["TERRAFORM_RULES"]

TERRAFORM_RULES: TfRuleSet = TfRuleSet(agent="security")

_PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
_PAB_FLAGS = (
    "block_public_acls",
    "block_public_policy",
    "ignore_public_acls",
    "restrict_public_buckets",
)
_OPEN_V4 = frozenset({"0.0.0.0/0"})
_OPEN_V6 = frozenset({"::/0", "0::/0"})
_WEB_PORTS = frozenset({80, 443})
_ADMIN_PORTS = {22: "SSH", 3389: "RDP"}
_ALL_PROTOCOLS = frozenset({"-1", "all"})


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _shown(value: Any) -> str:
    return str(value).lower() if value is not None else "unset (false)"


def _port(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- LG-TF-001 tf.public-bucket --------------------------------------------------------------


@TERRAFORM_RULES.rule(
    "LG-TF-001",
    category="tf.public-bucket",
    severity=Severity.high,
    title="Storage bucket open to the public",
    message=(
        "The bucket is readable (or writable) by anyone on the internet, or its public-access "
        "block is switched off: a public bucket is the most common way data leaks from the cloud."
    ),
    remediation=(
        "Use a private ACL (or none: BucketOwnerEnforced) and set all four settings of "
        "aws_s3_bucket_public_access_block to true; grant access to named principals only."
    ),
    references=[
        "CKV_AWS_20",
        "CKV_AWS_53",
        "CKV_AWS_54",
        "CKV_AWS_55",
        "CKV_AWS_56",
        "CIS AWS 2.1.5",
    ],
)
def _public_bucket(tf: TerraformFile, ctx: Any) -> Iterable[Hit]:
    for b in tf.resources("aws_s3_bucket", "aws_s3_bucket_acl"):
        acl = b.get("acl")
        if isinstance(acl, str) and acl in _PUBLIC_ACLS:
            yield Hit(**at(b, "acl"), evidence=f"acl = {acl}")
    for b in tf.resources(
        "aws_s3_bucket_public_access_block", "aws_s3_account_public_access_block"
    ):
        off = []
        for flag in _PAB_FLAGS:
            value = b.get(flag)
            if is_expression(value):
                continue
            if truthy(value) is not True:
                off.append(
                    f"{flag} = {str(value).lower() if value is not None else 'unset (false)'}"
                )
        if off:
            explicit = next((f.split(" ")[0] for f in off if "unset" not in f), None)
            yield Hit(**at(b, explicit), evidence=", ".join(off))
    for b in tf.resources("google_storage_bucket_iam_member", "google_storage_bucket_iam_binding"):
        members = _as_list(b.get("member")) + _as_list(b.get("members"))
        public = [m for m in members if m in ("allUsers", "allAuthenticatedUsers")]
        if public:
            key = "member" if "member" in b.body else "members"
            yield Hit(
                **at(b, key),
                evidence=f"{key} = {public[0]}",
            )
    for b in tf.resources("azurerm_storage_container"):
        access = b.get("container_access_type")
        if access in ("blob", "container"):
            yield Hit(
                **at(b, "container_access_type"),
                evidence=f"container_access_type = {access}",
            )
    for b in tf.resources("aws_s3_bucket_policy"):
        if _public_principal(b.get("policy")):
            yield Hit(
                **at(b, "policy"),
                evidence='policy allows Principal "*" with no Condition',
            )


_HCL_PUBLIC_PRINCIPAL = re.compile(
    r"\bPrincipal\s*=\s*(?:\\?\"\*\\?\"|\{\s*\\?\"?AWS\\?\"?\s*=\s*(?:\[\s*)?\\?\"\*\\?\")"
)


def _public_principal(policy: Any) -> bool:
    """An Allow statement for everyone (`Principal: "*"` / `{"AWS": "*"}`) without a Condition."""
    if isinstance(policy, str) and "jsonencode" in policy:
        return bool(_HCL_PUBLIC_PRINCIPAL.search(policy)) and "Condition" not in policy
    for stmt in _statements(policy):
        principal = stmt.get("Principal")
        everyone = principal == "*" or (
            isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))
        )
        if everyone and stmt.get("Effect", "Allow") == "Allow" and not stmt.get("Condition"):
            return True
    return False


# --- LG-TF-002 tf.open-ingress ---------------------------------------------------------------


def _ingress_rules(tf: TerraformFile) -> Iterator[tuple[TfBlock, dict[str, Any], dict[str, Any]]]:
    """(resource, rule body, where a hit points) of every ingress rule, across the AWS forms."""
    for b in tf.resources("aws_security_group"):
        for i, rule in enumerate(b.nested("ingress")):
            yield b, rule, at(b, "cidr_blocks", i, within="ingress")
    for b in tf.resources("aws_security_group_rule"):
        if b.get("type") == "ingress":
            key = "cidr_blocks" if "cidr_blocks" in b.origins else None
            yield b, b.body, at(b, key)
    for b in tf.resources("aws_vpc_security_group_ingress_rule"):
        body = dict(b.body)
        body["cidr_blocks"] = _as_list(body.get("cidr_ipv4"))
        body["ipv6_cidr_blocks"] = _as_list(body.get("cidr_ipv6"))
        body.setdefault("protocol", body.get("ip_protocol"))
        key = "cidr_ipv4" if "cidr_ipv4" in b.origins else None
        yield b, body, at(b, key)


def _describe_ports(rule: dict[str, Any]) -> tuple[bool, set[int], str] | None:
    """(open to all ports or a range beyond 80/443, admin ports hit, text); None if only web."""
    protocol = str(rule.get("protocol", "")).lower()
    if protocol in ("icmp", "1", "icmpv6", "58"):
        return None  # ping and path-MTU discovery: no service listens
    low, high = _port(rule.get("from_port")), _port(rule.get("to_port"))
    if protocol in _ALL_PROTOCOLS or (low is None and high is None and "from_port" not in rule):
        return True, set(_ADMIN_PORTS), "all ports"
    if low is None or high is None:
        return None  # an expression: unknown
    if high < low:
        low, high = high, low
    if low == 0 and high in (0, 65535) and protocol not in ("icmp", "1", "icmpv6", "58"):
        return True, set(_ADMIN_PORTS), "all ports"
    ports = set(range(low, high + 1)) if high - low < 70000 else set()
    if ports and ports <= _WEB_PORTS:
        return None
    admin = {p for p in _ADMIN_PORTS if low <= p <= high}
    text = f"port {low}" if low == high else f"ports {low}-{high}"
    return False, admin, text


@TERRAFORM_RULES.rule(
    "LG-TF-002",
    category="tf.open-ingress",
    severity=Severity.high,
    title="Ingress open to the internet",
    message=(
        "A security group rule accepts traffic from any address (0.0.0.0/0 or ::/0) on ports "
        "other than HTTP/HTTPS: SSH, RDP and database ports open to the internet are scanned "
        "and brute-forced within minutes."
    ),
    remediation=(
        "Restrict the source to known ranges (a VPN, a bastion's security group) or use a "
        "load balancer for public traffic; reach admin ports through SSM or a bastion."
    ),
    references=["CKV_AWS_24", "CKV_AWS_25", "CKV_AWS_260", "CIS AWS 5.2", "CIS AWS 5.3"],
)
def _open_ingress(tf: TerraformFile, ctx: Any) -> Iterable[Hit]:
    for _b, rule, where in _ingress_rules(tf):
        sources = [
            str(c)
            for c in _as_list(rule.get("cidr_blocks")) + _as_list(rule.get("ipv6_cidr_blocks"))
        ]
        open_to = [c for c in sources if c in _OPEN_V4 or c in _OPEN_V6]
        if not open_to:
            continue
        ports = _describe_ports(rule)
        if ports is None:
            continue
        _, admin, text = ports
        severity = Severity.critical if admin else None
        names = ", ".join(f"{_ADMIN_PORTS[p]} {p}" for p in sorted(admin))
        evidence = f"ingress from {open_to[0]} on {text}" + (f" ({names})" if names else "")
        yield Hit(**where, evidence=evidence, severity=severity)
    for b in tf.resources("google_compute_firewall"):
        direction = str(b.get("direction", "INGRESS")).upper()
        ranges = [str(r) for r in _as_list(b.get("source_ranges"))]
        open_to = [r for r in ranges if r in _OPEN_V4 or r in _OPEN_V6]
        if direction != "INGRESS" or not open_to:
            continue
        for i, allow in enumerate(b.nested("allow")):
            ports = [str(p) for p in _as_list(allow.get("ports"))]
            if ports and all(p in ("80", "443") for p in ports):
                continue
            admin = any(_in_port_spec(p, port) for p in ports for port in _ADMIN_PORTS) or not ports
            yield Hit(
                **at(b, "allow", i),
                evidence=(
                    f"allow {allow.get('protocol')} {','.join(ports) or 'all ports'} "
                    f"from {open_to[0]}"
                ),
                severity=Severity.critical if admin else None,
            )


def _in_port_spec(spec: str, port: int) -> bool:
    low, _, high = spec.partition("-")
    lo, hi = _port(low), _port(high or low)
    return lo is not None and hi is not None and lo <= port <= hi


# --- LG-TF-003 tf.unencrypted-storage --------------------------------------------------------


def _bucket_ref(value: Any) -> str | None:
    m = re.search(r"aws_s3_bucket\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.(?:id|bucket|arn)", str(value))
    return m.group(1) if m else None


@TERRAFORM_RULES.rule(
    "LG-TF-003",
    category="tf.unencrypted-storage",
    severity=Severity.high,
    title="Storage not encrypted at rest",
    message=(
        "The volume, database or bucket does not declare encryption at rest: snapshots, "
        "backups and disks that leave your control are readable as they are."
    ),
    remediation=(
        "Set `encrypted = true` (EBS, EFS), `storage_encrypted = true` (RDS), or add an "
        "aws_s3_bucket_server_side_encryption_configuration for the bucket (KMS for "
        "sensitive data)."
    ),
    references=[
        "CKV_AWS_3",
        "CKV_AWS_16",
        "CKV_AWS_19",
        "CKV_AWS_42",
        "CKV_AWS_145",
        "CIS AWS 2.2.1",
    ],
)
def _unencrypted_storage(tf: TerraformFile, ctx: Any) -> Iterable[Hit]:
    module: list[TfBlock] | None = None

    def module_blocks() -> list[TfBlock]:
        nonlocal module
        if module is None:
            module = tf.module_blocks(ctx.accepted if ctx is not None else ())
        return module

    def ebs_by_default() -> bool:
        return any(
            m.type == "aws_ebs_encryption_by_default"
            and truthy(m.get("enabled", True)) is not False
            for m in module_blocks()
        )

    for b in tf.resources("aws_ebs_volume", "aws_efs_file_system"):
        value = b.get("encrypted")
        if is_expression(value) or truthy(value):
            continue
        if b.type == "aws_ebs_volume" and ebs_by_default():
            continue
        yield Hit(
            **at(b, "encrypted"),
            evidence=f"encrypted = {_shown(value)}",
        )
    for b in tf.resources("aws_redshift_cluster", "aws_elasticache_replication_group"):
        key = "encrypted" if b.type == "aws_redshift_cluster" else "at_rest_encryption_enabled"
        value = b.get(key)
        if is_expression(value) or truthy(value):
            continue
        yield Hit(
            **at(b, key),
            evidence=f"{key} = {_shown(value)}",
        )
    for b in tf.resources("aws_instance"):
        if ebs_by_default():
            break
        for key in ("root_block_device", "ebs_block_device"):
            for i, device in enumerate(b.nested(key)):
                value = device.get("encrypted")
                if is_expression(value) or truthy(value):
                    continue
                yield Hit(
                    **at(b, "encrypted", i, within=key),
                    evidence=f"{key}.encrypted = {_shown(value)}",
                )
    for b in tf.resources("aws_db_instance", "aws_rds_cluster"):
        value = b.get("storage_encrypted")
        if is_expression(value) or truthy(value):
            continue
        if value is None and (b.get("replicate_source_db") or b.get("snapshot_identifier")):
            continue  # inherits the source's encryption
        if b.type == "aws_rds_cluster" and str(b.get("engine_mode", "")) == "serverless":
            continue  # Aurora Serverless v1 is always encrypted
        yield Hit(
            **at(b, "storage_encrypted"),
            evidence=f"storage_encrypted = {_shown(value)}",
        )
    for b in tf.resources("aws_s3_bucket"):
        if b.nested("server_side_encryption_configuration"):
            continue
        encrypted = {
            _bucket_ref(m.get("bucket"))
            for m in module_blocks()
            if m.type == "aws_s3_bucket_server_side_encryption_configuration"
        }
        if b.name in encrypted:
            continue
        yield Hit(
            **at(b),
            evidence="no server-side encryption configuration for this bucket",
            severity=Severity.medium,
        )


# --- LG-TF-004 tf.rds-public -----------------------------------------------------------------


@TERRAFORM_RULES.rule(
    "LG-TF-004",
    category="tf.rds-public",
    severity=Severity.high,
    title="Database reachable from the internet",
    message=(
        "The database instance gets a public address (`publicly_accessible = true`): its port "
        "is one security-group mistake away from the whole internet."
    ),
    remediation="Set `publicly_accessible = false` and reach the database from inside the VPC.",
    references=["CKV_AWS_17", "CIS AWS 2.3.3"],
)
def _rds_public(tf: TerraformFile, ctx: Any) -> Iterable[Hit]:
    for b in tf.resources("aws_db_instance", "aws_rds_cluster_instance"):
        if truthy(b.get("publicly_accessible")) is True:
            yield Hit(
                **at(b, "publicly_accessible"),
                evidence="publicly_accessible = true",
            )


# --- LG-TF-005 tf.iam-wildcard ---------------------------------------------------------------

_POLICY_RESOURCES = (
    "aws_iam_policy",
    "aws_iam_role_policy",
    "aws_iam_user_policy",
    "aws_iam_group_policy",
)
_HCL_WILDCARD_ACTION = re.compile(r"\b[Aa]ction\s*=\s*(?:\[\s*)?\\?\"\*\\?\"")


def _statements(policy: Any) -> list[dict[str, Any]]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return []
    if not isinstance(policy, dict):
        return []
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, dict)]


@TERRAFORM_RULES.rule(
    "LG-TF-005",
    category="tf.iam-wildcard",
    severity=Severity.high,
    title="IAM policy allows every action",
    message=(
        "An Allow statement grants `*` actions: whoever holds this policy is an administrator, "
        "so one leaked credential or compromised workload owns the account."
    ),
    remediation=(
        "List the actions the workload needs (least privilege) and scope Resource to its ARNs."
    ),
    references=["CKV_AWS_1", "CKV_AWS_62", "CKV_AWS_63", "CIS AWS 1.16"],
)
def _iam_wildcard(tf: TerraformFile, ctx: Any) -> Iterable[Hit]:
    for b in tf.resources(*_POLICY_RESOURCES):
        policy = b.get("policy")
        if isinstance(policy, str) and "jsonencode" in policy:
            if _HCL_WILDCARD_ACTION.search(policy) and "Deny" not in policy:
                yield Hit(
                    **at(b, "policy"),
                    evidence='Action = "*"',
                )
            continue
        for stmt in _statements(policy):
            if stmt.get("Effect", "Allow") == "Allow" and "*" in _as_list(stmt.get("Action")):
                yield Hit(
                    **at(b, "policy"),
                    evidence='"Action": "*"',
                )
                break
    for b in tf.data_sources("aws_iam_policy_document"):
        for i, stmt in enumerate(b.nested("statement")):
            if str(stmt.get("effect", "Allow")) == "Allow" and "*" in _as_list(stmt.get("actions")):
                yield Hit(
                    **at(b, "statement", i),
                    evidence='actions = ["*"]',
                )


def register(registry: Registry) -> None:
    """The `terraform` group: cloud resources exposed, unencrypted or unlogged."""
    register_parser(registry)
    registry.rules("terraform", "terraform", TERRAFORM_RULES)
