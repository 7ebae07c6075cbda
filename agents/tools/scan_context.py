"""The scan context: a compact index of a target's Kubernetes objects, built once per scan.

Pass 1 of the engine feeds every object to `ScanContext.index`, which keeps only what rules
need to look across resources (labels, selectors, HPA targets, PDBs, ServiceAccounts); the
parsed documents themselves are dropped, so memory grows with the number of objects, not
with their size. Pass 2 hands the same `ScanContext` to every rule as `ctx`.

Inline suppression: the annotation `llmgenie.io/ignore: "LG-K8S-001,LG-K8S-014"` on an
object, or on its pod template, suppresses those rule ids (`*` or `all` suppresses every rule)
for that object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmgenie.agents.tools.parsing.kubernetes import (
    IGNORE_ANNOTATION,
    K8sObject,
    pod_spec,
    pod_template_metadata,
)

__all__ = [
    "IGNORE_ANNOTATION",
    "NAMESPACED_KINDS_EXEMPT",
    "ObjectSummary",
    "ScanContext",
    "suppressed_rule_ids",
]

#: Cluster-scoped kinds: they live in no namespace, so `default` never applies to them.
#: Kubernetes' own cluster-scoped kinds (the offline schemas know every built-in kind but not
#: its scope; this is the API server's list). Any other built-in kind is namespaced.
NAMESPACED_KINDS_EXEMPT = frozenset(
    {
        "ClusterTrustBundle",
        "DeviceClass",
        "ResourceSlice",
        "VolumeAttributesClass",
        "StorageVersion",
        "StorageVersionMigration",
        "IPAddress",
        "ServiceCIDR",
        "MutatingAdmissionPolicy",
        "MutatingAdmissionPolicyBinding",
        "TokenReview",
        "SelfSubjectReview",
        "SelfSubjectAccessReview",
        "SelfSubjectRulesReview",
        "SubjectAccessReview",
        "Namespace",
        "Node",
        "PersistentVolume",
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "StorageClass",
        "PriorityClass",
        "RuntimeClass",
        "IngressClass",
        "APIService",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
        "PodSecurityPolicy",
        "CSIDriver",
        "CSINode",
        "VolumeAttachment",
        "CertificateSigningRequest",
        "ComponentStatus",
        "FlowSchema",
        "PriorityLevelConfiguration",
        "ClusterIssuer",
        "List",
    }
)


def suppressed_rule_ids(o: K8sObject) -> frozenset[str]:
    """Rule ids named by the ignore annotation on the object or its pod template."""
    return o.suppressed_ids


def _ns(namespace: str | None) -> str:
    return namespace or "default"


def _str_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Service-style map selector, or a LabelSelector with matchLabels/matchExpressions."""
    if not selector:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        ml = _str_map(selector.get("matchLabels"))
        if any(labels.get(k) != v for k, v in ml.items()):
            return False
        for expr in selector.get("matchExpressions") or []:
            if not isinstance(expr, dict):
                continue
            key, op = str(expr.get("key")), str(expr.get("operator"))
            values = [str(v) for v in expr.get("values") or []]
            if op == "In" and labels.get(key) not in values:
                return False
            if op == "NotIn" and labels.get(key) in values:
                return False
            if op == "Exists" and key not in labels:
                return False
            if op == "DoesNotExist" and key in labels:
                return False
        return bool(ml or selector.get("matchExpressions"))
    return all(labels.get(str(k)) == str(v) for k, v in selector.items())


@dataclass(frozen=True, slots=True)
class ObjectSummary:
    """What the index keeps of one object: identity, place and labels."""

    kind: str
    namespace: str | None
    name: str
    file: str
    line: int
    labels: dict[str, str]
    pod_labels: dict[str, str]
    service_account: str | None = None


@dataclass
class ScanContext:
    """The index built in pass 1 and handed to every rule in pass 2 as `ctx`."""

    root: Path
    settings: dict[str, Any] = field(default_factory=dict)
    #: Target-relative paths of the files the walker accepted: the only files a rule may read
    #: besides its own subject (a Terraform module's sibling files, for one).
    accepted: frozenset[str] = frozenset()
    objects: list[ObjectSummary] = field(default_factory=list)
    #: (namespace, selector, "Service/ns/name")
    services: list[tuple[str, dict[str, str], str]] = field(default_factory=list)
    #: (namespace, kind, name) of every HPA scaleTargetRef
    hpa_targets: set[tuple[str, str, str]] = field(default_factory=set)
    #: (namespace, selector) of every PodDisruptionBudget
    pdb_selectors: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: (namespace, name) -> automountServiceAccountToken of the ServiceAccount (None: unset)
    service_accounts: dict[tuple[str, str], bool | None] = field(default_factory=dict)
    #: (namespace, name) of objects referring to a ServiceAccount through a (Cluster)RoleBinding
    bound_service_accounts: set[tuple[str, str]] = field(default_factory=set)
    namespaces: set[str] = field(default_factory=set)
    #: (API group, kind) -> "Namespaced" or "Cluster", from the CustomResourceDefinitions in
    #: the target (their `spec.scope`)
    crd_scopes: dict[tuple[str, str], str] = field(default_factory=dict)
    suppressed: int = 0
    # (namespace, label, value) -> indexes into services / pdb_selectors whose selector
    # requires that label: lookups touch only candidates, not every Service of the target.
    _service_keys: dict[tuple[str, str, str], list[int]] = field(default_factory=dict, repr=False)
    _pdb_keys: dict[tuple[str, str, str], list[int]] = field(default_factory=dict, repr=False)
    _pdb_unkeyed: dict[str, list[int]] = field(default_factory=dict, repr=False)

    def index(self, o: K8sObject) -> None:
        """Pass 1: record what cross-resource rules need of one object."""
        ns = _ns(o.namespace)
        md = o.metadata
        spec = o.obj.get("spec") if isinstance(o.obj.get("spec"), dict) else {}
        pod = pod_spec(o)
        sa = None
        if pod is not None:
            sa = pod[0].get("serviceAccountName") or pod[0].get("serviceAccount")
        self.objects.append(
            ObjectSummary(
                kind=o.kind,
                namespace=o.namespace,
                name=o.name,
                file=o.file,
                line=o.line,
                labels=_str_map(md.get("labels")),
                pod_labels=_str_map(pod_template_metadata(o).get("labels")),
                service_account=str(sa) if sa else None,
            )
        )
        if o.kind == "CustomResourceDefinition":
            names = spec.get("names") if isinstance(spec.get("names"), dict) else {}
            scope, group, kind = spec.get("scope"), spec.get("group"), names.get("kind")
            if scope in ("Namespaced", "Cluster") and isinstance(kind, str):
                self.crd_scopes[(str(group or ""), kind)] = scope
        if o.kind == "Service":
            sel = _str_map(spec.get("selector"))
            if sel:
                k, v = next(iter(sel.items()))
                self._service_keys.setdefault((ns, k, v), []).append(len(self.services))
                self.services.append((ns, sel, o.resource))
        elif o.kind == "HorizontalPodAutoscaler":
            ref = spec.get("scaleTargetRef")
            if isinstance(ref, dict) and ref.get("name"):
                self.hpa_targets.add((ns, str(ref.get("kind", "")), str(ref["name"])))
        elif o.kind == "PodDisruptionBudget":
            sel = spec.get("selector")
            if isinstance(sel, dict):
                ml = _str_map(sel.get("matchLabels"))
                if ml:
                    k, v = next(iter(ml.items()))
                    self._pdb_keys.setdefault((ns, k, v), []).append(len(self.pdb_selectors))
                else:
                    self._pdb_unkeyed.setdefault(ns, []).append(len(self.pdb_selectors))
                self.pdb_selectors.append((ns, sel))
        elif o.kind == "ServiceAccount":
            auto = o.obj.get("automountServiceAccountToken")
            self.service_accounts[(ns, o.name)] = auto if isinstance(auto, bool) else None
        elif o.kind == "Namespace":
            self.namespaces.add(o.name)
        elif o.kind in {"RoleBinding", "ClusterRoleBinding"}:
            for subj in o.obj.get("subjects") or []:
                if isinstance(subj, dict) and subj.get("kind") == "ServiceAccount":
                    sns = _ns(subj.get("namespace") or o.namespace)
                    self.bound_service_accounts.add((sns, str(subj.get("name"))))

    # -- questions rules ask ---------------------------------------------------------------

    def pod_labels(self, o: K8sObject) -> dict[str, str]:
        labels = _str_map(pod_template_metadata(o).get("labels"))
        return labels

    def services_for(self, o: K8sObject) -> list[str]:
        """Services (by resource) whose selector matches the object's pod labels."""
        labels = self.pod_labels(o)
        ns = _ns(o.namespace)
        hits = sorted(
            {i for k, v in labels.items() for i in self._service_keys.get((ns, k, v), ())}
        )
        return [self.services[i][2] for i in hits if _selector_matches(self.services[i][1], labels)]

    def has_hpa(self, o: K8sObject) -> bool:
        return (_ns(o.namespace), o.kind, o.name) in self.hpa_targets

    def has_pdb(self, o: K8sObject) -> bool:
        labels = self.pod_labels(o)
        ns = _ns(o.namespace)
        hits = {i for k, v in labels.items() for i in self._pdb_keys.get((ns, k, v), ())}
        hits.update(self._pdb_unkeyed.get(ns, ()))
        return any(_selector_matches(self.pdb_selectors[i][1], labels) for i in hits)

    def service_account_automount(self, namespace: str | None, name: str) -> bool | None:
        """The ServiceAccount's automountServiceAccountToken if the target defines it."""
        return self.service_accounts.get((_ns(namespace), name))

    def service_account_has_role(self, namespace: str | None, name: str) -> bool:
        return (_ns(namespace), name) in self.bound_service_accounts

    def is_suppressed(self, o: K8sObject, rule_id: str) -> bool:
        return o.is_suppressed(rule_id)
