"""Kubernetes RBAC rules (`k8s.rbac-*`, ids LG-RBAC-001…): the Security agent's `kubernetes.rbac`.

Who may do what: bindings to cluster-admin, wildcard grants, reading Secrets, exec into pods,
the verbs that bypass RBAC itself (escalate, bind, impersonate), and workloads that run as
their namespace's `default` service account with its token mounted. One hit per offending
rule of a Role or ClusterRole (its index in `rules` is in the evidence).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from llmgenie.agents.tools.checks.kubernetes_exposure import is_partial_workload
from llmgenie.agents.tools.parsing.kubernetes import K8sObject, pod_spec
from llmgenie.agents.tools.registry import Registry
from llmgenie.agents.tools.rules import Hit, RuleSet
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.core.models import Severity

__all__ = ["RBAC_RULES", "register"]

RBAC_RULES: RuleSet[K8sObject] = RuleSet(agent="security")

_ROLE_KINDS = frozenset({"Role", "ClusterRole"})
_BINDING_KINDS = frozenset({"RoleBinding", "ClusterRoleBinding"})
_READ_VERBS = frozenset({"get", "list", "watch", "*"})
_BYPASS_VERBS = ("escalate", "bind", "impersonate")


def _strs(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _rules(o: K8sObject) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rules of a Role/ClusterRole; none for an aggregated ClusterRole (filled in later)."""
    if o.kind not in _ROLE_KINDS or o.obj.get("aggregationRule") or "$patch" in o.obj:
        return
    rules = o.obj.get("rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        if isinstance(rule, dict):
            yield i, rule


def _core(rule: dict[str, Any]) -> bool:
    groups = _strs(rule.get("apiGroups"))
    return "" in groups or "*" in groups


def _hit(o: K8sObject, i: int, key: str, evidence: str) -> Hit:
    return Hit(
        file=o.file,
        line=o.line_near("rules", i, key),
        resource=o.resource,
        evidence=f"rules[{i}]: {evidence}",
    )


@RBAC_RULES.rule(
    "LG-RBAC-001",
    category="k8s.rbac-cluster-admin",
    severity=Severity.high,
    title="Binding to cluster-admin",
    message="cluster-admin can do anything to any object in every namespace; whoever holds a"
    " token of a bound subject owns the cluster.",
    remediation="Bind a Role (or ClusterRole) that grants only the verbs and resources the"
    " subject needs, in the namespaces it needs them.",
    references=["CIS Kubernetes 5.1.1", "kube-linter cluster-admin-role-binding"],
)
def cluster_admin(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    if o.kind not in _BINDING_KINDS:
        return
    ref = o.obj.get("roleRef")
    if (
        isinstance(ref, dict)
        and ref.get("kind") == "ClusterRole"
        and ref.get("name") == ("cluster-admin")
    ):
        subjects = o.obj.get("subjects")
        names = [
            f"{s.get('kind')} {s.get('name')}"
            for s in (subjects if isinstance(subjects, list) else [])
            if isinstance(s, dict)
        ]
        yield Hit(
            file=o.file,
            line=o.line_near("roleRef", "name"),
            resource=o.resource,
            evidence=f"roleRef ClusterRole cluster-admin for {', '.join(names) or 'no subject'}",
        )


@RBAC_RULES.rule(
    "LG-RBAC-002",
    category="k8s.rbac-wildcard",
    severity=Severity.medium,
    title="Role grants wildcard verbs or resources",
    message="`*` in verbs or resources grants everything that exists now and every resource"
    " type or subresource added later (including secrets, pods/exec and CRDs).",
    remediation="List the verbs and resources the subject needs explicitly.",
    references=["CIS Kubernetes 5.1.3", "CKV_K8S_49", "kube-linter wildcard-in-rules"],
)
def wildcard(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for i, rule in _rules(o):
        parts = [k for k in ("verbs", "resources") if "*" in _strs(rule.get(k))]
        if parts:
            yield _hit(o, i, parts[0], " and ".join(f"{p}: *" for p in parts))


@RBAC_RULES.rule(
    "LG-RBAC-003",
    category="k8s.rbac-secrets",
    severity=Severity.medium,
    title="Role can read Secrets",
    message="get, list or watch on secrets reads every Secret in scope, service account tokens"
    " and TLS keys included; list and watch return their values too.",
    remediation="Grant get on the named Secrets only (`resourceNames`), or mount the Secrets"
    " the workload needs instead of reading them through the API.",
    references=["CIS Kubernetes 5.1.2", "kube-linter access-to-secrets"],
)
def secrets_access(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for i, rule in _rules(o):
        if not _core(rule) or "secrets" not in _strs(rule.get("resources")):
            continue
        verbs = sorted(_READ_VERBS & set(_strs(rule.get("verbs"))))
        if verbs and not _strs(rule.get("resourceNames")):
            yield _hit(o, i, "resources", f"secrets: {', '.join(verbs)}")


@RBAC_RULES.rule(
    "LG-RBAC-004",
    category="k8s.rbac-pod-exec",
    severity=Severity.high,
    title="Role can exec or attach into pods",
    message="create on pods/exec or pods/attach (or get, which WebSocket clients needed before"
    " Kubernetes 1.31) runs commands in any pod in scope, with that pod's service account,"
    " mounts and secrets.",
    remediation="Drop pods/exec and pods/attach from roles of workloads; give people"
    " break-glass access through a separate, audited role.",
    references=["CIS Kubernetes 5.1.4", "kube-linter access-to-create-pods"],
)
def pod_exec(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for i, rule in _rules(o):
        if not _core(rule):
            continue
        subs = sorted({"pods/exec", "pods/attach"} & set(_strs(rule.get("resources"))))
        verbs = set(_strs(rule.get("verbs")))
        if subs and verbs & {"create", "get", "*"}:
            yield _hit(o, i, "resources", f"{', '.join(subs)}: {', '.join(sorted(verbs))}")


@RBAC_RULES.rule(
    "LG-RBAC-005",
    category="k8s.rbac-escalation",
    severity=Severity.high,
    title="Role can escalate, bind or impersonate",
    message="escalate and bind let a subject grant itself permissions it does not have;"
    " impersonate lets it act as any user, group or service account. Each bypasses RBAC.",
    remediation="Remove these verbs; only cluster administrators and the controllers that"
    " manage RBAC need them.",
    references=["CIS Kubernetes 5.1.8", "CKV_K8S_155", "CKV_K8S_156", "CKV_K8S_157"],
)
def escalation_verbs(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for i, rule in _rules(o):
        verbs = [v for v in _BYPASS_VERBS if v in _strs(rule.get("verbs"))]
        if verbs:
            res = ", ".join(_strs(rule.get("resources"))) or "?"
            yield _hit(o, i, "verbs", f"verbs {', '.join(verbs)} on {res}")


@RBAC_RULES.rule(
    "LG-RBAC-006",
    category="k8s.default-service-account",
    severity=Severity.medium,
    title="Permissions granted to the default service account",
    message="Every pod of the namespace that names no service account runs as `default`: a"
    " role bound to it is granted to all of them, and its token is mounted into each. (A"
    " workload whose token is merely automounted is LG-K8S-012.)",
    remediation="Bind the role to a ServiceAccount of its own and set serviceAccountName on"
    " the workloads that need it; leave `default` without permissions.",
    references=["CIS Kubernetes 5.1.5", "CKV_K8S_42", "kube-linter default-service-account"],
)
def default_service_account(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    if o.kind in _BINDING_KINDS:
        subjects = o.obj.get("subjects")
        for i, s in enumerate(subjects if isinstance(subjects, list) else []):
            if (
                isinstance(s, dict)
                and s.get("kind") == "ServiceAccount"
                and (s.get("name") == "default")
            ):
                ns = s.get("namespace") or o.namespace or ""
                ref = o.obj.get("roleRef")
                role = f"{ref.get('kind')} {ref.get('name')}" if isinstance(ref, dict) else "?"
                yield Hit(
                    file=o.file,
                    line=o.line_near("subjects", i, "name"),
                    resource=o.resource,
                    evidence=f"{role} bound to ServiceAccount {ns}/default".replace(" /", " "),
                )
        return
    found = pod_spec(o)
    if not found or is_partial_workload(o):
        return
    spec, path = found
    sa = str(spec.get("serviceAccountName") or spec.get("serviceAccount") or "default")
    if sa != "default" or spec.get("automountServiceAccountToken") is False:
        return
    if ctx.service_account_automount(o.namespace, "default") is False:
        return
    if not ctx.service_account_has_role(o.namespace, "default"):
        return  # no permissions to share: an automounted token alone is LG-K8S-012's
    evidence = (
        "serviceAccountName: default"
        if spec.get("serviceAccountName") == "default"
        else "no serviceAccountName (runs as default)"
    )
    yield Hit(
        file=o.file,
        line=o.line_near(*path, "serviceAccountName"),
        resource=o.resource,
        evidence=f"{evidence}, which a RoleBinding grants permissions; token automounted",
    )


def register(registry: Registry) -> None:
    """The `kubernetes.rbac` group: RBAC grants and the default service account."""
    registry.rules("kubernetes.rbac", "k8s", RBAC_RULES)
