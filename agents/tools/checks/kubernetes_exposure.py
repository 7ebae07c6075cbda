"""Kubernetes exposure and isolation rules (ids LG-EXPO-…, LG-ISO-…), for the Security agent.

`kubernetes.exposure`: what reaches a workload from outside the cluster (LoadBalancer and
NodePort Services, Ingress without TLS, `externalIPs`, `hostPort`). `kubernetes.isolation`:
what keeps a workload apart from its neighbours and the node (a NetworkPolicy in its
namespace, Pod Security admission labels on the namespace, `procMount`, AppArmor and SELinux).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

from llmgenie.agents.tools.parsing.kubernetes import (
    K8sObject,
    containers,
    pod_spec,
    pod_template_metadata,
)
from llmgenie.agents.tools.registry import Registry
from llmgenie.agents.tools.rules import Hit, RuleSet
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.core.models import Severity

__all__ = [
    "EXPOSURE",
    "INTERNAL_LB_ANNOTATIONS",
    "ISOLATION",
    "is_partial_workload",
    "is_patch_directive",
    "register",
]

EXPOSURE: RuleSet[K8sObject] = RuleSet(agent="security")
ISOLATION: RuleSet[K8sObject] = RuleSet(agent="security")

#: Annotations that make a cloud load balancer internal (annotation -> values meaning internal).
INTERNAL_LB_ANNOTATIONS: dict[str, frozenset[str]] = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": frozenset({"true", "0.0.0.0/0"}),
    "service.beta.kubernetes.io/aws-load-balancer-scheme": frozenset({"internal"}),
    "service.beta.kubernetes.io/azure-load-balancer-internal": frozenset({"true"}),
    "networking.gke.io/load-balancer-type": frozenset({"internal"}),
    "cloud.google.com/load-balancer-type": frozenset({"internal"}),
    "service.beta.kubernetes.io/oci-load-balancer-internal": frozenset({"true"}),
    "service.kubernetes.io/ibm-load-balancer-cloud-provider-ip-type": frozenset({"private"}),
}
_PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
_SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


_SELECTOR_REQUIRED = frozenset({"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"})


def is_patch_directive(o: K8sObject) -> bool:
    """A strategic-merge `$patch: delete` (or replace) document: not an object to judge."""
    return "$patch" in o.obj or "$patch" in o.metadata


def is_partial_workload(o: K8sObject) -> bool:
    """A workload that cannot be applied as written: a kustomize patch, or a base completed
    by its overlays (apps/v1 controller without `spec.selector`, or a container without an
    image). Rules about what a workload *lacks* say nothing about such fragments."""
    if is_patch_directive(o):
        return True
    spec = _dict(o.obj.get("spec"))
    if o.kind in _SELECTOR_REQUIRED and o.api_version == "apps/v1" and not spec.get("selector"):
        return True
    return any(not c.container.get("image") for c in containers(o))


def _hit(o: K8sObject, evidence: str, *path: str | int) -> Hit:
    return Hit(file=o.file, line=o.line_near(*path), resource=o.resource, evidence=evidence)


# -- exposure --------------------------------------------------------------------------------


def _is_internal(o: K8sObject) -> bool:
    ann = _dict(o.metadata.get("annotations"))
    return any(
        str(ann.get(k, "")).strip().lower() in values
        for k, values in INTERNAL_LB_ANNOTATIONS.items()
    )


@EXPOSURE.rule(
    "LG-EXPO-001",
    category="k8s.service-load-balancer",
    severity=Severity.medium,
    title="Service exposed through a public load balancer",
    message="A LoadBalancer Service with no source ranges gets a cloud load balancer reachable"
    " from the whole internet, bypassing any Ingress, WAF or authentication in front of it.",
    remediation="Expose HTTP through an Ingress or Gateway; otherwise restrict"
    " spec.loadBalancerSourceRanges or make the load balancer internal (cloud annotation).",
    references=["kube-score service-type", "CIS Kubernetes 5.7 (general)"],
)
def load_balancer(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    spec = _dict(o.obj.get("spec"))
    if o.kind != "Service" or spec.get("type") != "LoadBalancer" or _is_internal(o):
        return
    ranges = spec.get("loadBalancerSourceRanges")
    ranges = [str(r).strip() for r in ranges] if isinstance(ranges, list) else []
    if ranges and not ({"0.0.0.0/0", "::/0"} & set(ranges)):
        return
    ev = "type: LoadBalancer" + (
        f", loadBalancerSourceRanges: {', '.join(ranges)}" if ranges else ", no source ranges"
    )
    yield _hit(o, ev, "spec", "type")


@EXPOSURE.rule(
    "LG-EXPO-002",
    category="k8s.service-node-port",
    severity=Severity.low,
    title="Service opens a port on every node",
    message="A NodePort Service listens on every node's address, outside Ingress, TLS and"
    " NetworkPolicies applied at the edge; nodes are often reachable from wider networks than"
    " the workload should be.",
    remediation="Use ClusterIP behind an Ingress or Gateway, or a LoadBalancer restricted by"
    " source ranges.",
    references=["kube-score service-type", "checkov CKV_K8S_* (NodePort)"],
)
def node_port(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    spec = _dict(o.obj.get("spec"))
    if o.kind == "Service" and spec.get("type") == "NodePort":
        yield _hit(o, "type: NodePort", "spec", "type")


@EXPOSURE.rule(
    "LG-EXPO-003",
    category="k8s.ingress-tls",
    severity=Severity.medium,
    title="Ingress serves without TLS",
    message="An Ingress with no `tls` section serves plain HTTP: credentials, cookies and"
    " tokens cross the network readable and alterable.",
    remediation="Add spec.tls with a certificate Secret (cert-manager can issue it) for every"
    " host the Ingress serves.",
    references=["CIS Kubernetes 5.7 (general)", "OWASP ASVS 9.1.1"],
)
def ingress_tls(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    if o.kind != "Ingress" or is_patch_directive(o):
        return
    spec = _dict(o.obj.get("spec"))
    if spec.get("tls"):
        return
    yield _hit(o, "spec.tls not set", "spec")


@EXPOSURE.rule(
    "LG-EXPO-004",
    category="k8s.external-ips",
    severity=Severity.medium,
    title="Service sets externalIPs",
    message="externalIPs make kube-proxy capture traffic to those addresses on every node; a"
    " user who can create Services can intercept any IP this way (CVE-2020-8554).",
    remediation="Remove spec.externalIPs; use a LoadBalancer or Ingress, and block the field"
    " cluster-wide with the DenyServiceExternalIPs admission plugin.",
    references=["CVE-2020-8554", "kube-linter (externalIPs)"],
)
def external_ips(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    ips = _dict(o.obj.get("spec")).get("externalIPs")
    if o.kind == "Service" and isinstance(ips, list) and ips:
        yield _hit(o, f"externalIPs: {', '.join(str(i) for i in ips)}", "spec", "externalIPs")


@EXPOSURE.rule(
    "LG-EXPO-005",
    category="k8s.host-port",
    severity=Severity.medium,
    title="Container binds a host port",
    message="hostPort opens the port on the node's address, outside Services and"
    " NetworkPolicies, and pins the pod to nodes where the port is free.",
    remediation="Remove hostPort and expose the container through a Service.",
    references=["CKV_K8S_26", "kube-linter host-port", "Pod Security Standards baseline"],
)
def host_port(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c in containers(o):
        ports = c.container.get("ports")
        for i, p in enumerate(ports if isinstance(ports, list) else []):
            hp = _dict(p).get("hostPort")
            if hp not in (None, 0, "0", ""):
                yield Hit(
                    file=o.file,
                    line=o.line_near(*c.path, "ports", i, "hostPort"),
                    resource=o.resource,
                    evidence=f'{c.kind} "{c.name}": hostPort {hp}',
                )


# -- isolation -------------------------------------------------------------------------------

_POLICY_CACHE: list[tuple[weakref.ref[ScanContext], int, frozenset[str]]] = []


def _policy_namespaces(ctx: ScanContext) -> frozenset[str]:
    """Namespaces with at least one NetworkPolicy (computed once per scan context)."""
    for ref, count, found in _POLICY_CACHE:
        if ref() is ctx and count == len(ctx.objects):
            return found
    found = frozenset(s.namespace or "default" for s in ctx.objects if s.kind == "NetworkPolicy")
    _POLICY_CACHE[:] = [(weakref.ref(ctx), len(ctx.objects), found)]
    return found


@ISOLATION.rule(
    "LG-ISO-001",
    category="k8s.network-policy",
    severity=Severity.low,
    title="No NetworkPolicy in the workload's namespace",
    message="Without a NetworkPolicy selecting it, a pod accepts connections from every pod in"
    " the cluster and can reach all of them: one compromised workload reaches every other.",
    remediation="Add a default-deny NetworkPolicy to the namespace and allow the traffic each"
    " workload needs.",
    references=["CIS Kubernetes 5.3.2", "kube-linter non-isolated-pod"],
)
def network_policy(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    if pod_spec(o) is None or is_partial_workload(o):
        return
    ns = o.namespace or "default"
    if ns not in _policy_namespaces(ctx):
        yield _hit(o, f'namespace "{ns}" has no NetworkPolicy in the target', "metadata")


@ISOLATION.rule(
    "LG-ISO-002",
    category="k8s.pod-security-admission",
    severity=Severity.medium,
    title="Namespace without Pod Security admission",
    message="Without a `pod-security.kubernetes.io/enforce` label the namespace admits"
    " privileged pods (host namespaces, hostPath, privileged containers) unless a cluster-wide"
    " default or another admission controller says otherwise.",
    remediation="Label the namespace `pod-security.kubernetes.io/enforce: restricted` (or"
    " `baseline`), with `enforce-version`, after checking its workloads with `warn`/`audit`.",
    references=["CIS Kubernetes 5.2.1", "Kubernetes Pod Security Admission"],
)
def pod_security_admission(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    if o.kind != "Namespace" or is_patch_directive(o):
        return
    labels = _dict(o.metadata.get("labels"))
    if _PSA_ENFORCE not in labels:
        yield _hit(o, f"no {_PSA_ENFORCE} label", "metadata", "labels")


@ISOLATION.rule(
    "LG-ISO-003",
    category="k8s.proc-mount",
    severity=Severity.high,
    title="Container unmasks /proc",
    message="procMount: Unmasked exposes the host's /proc paths the runtime normally masks"
    " (kcore, sysrq-trigger, …), a step towards escaping the container.",
    remediation="Remove securityContext.procMount (Default masks /proc).",
    references=["Pod Security Standards baseline (procMount)", "kube-linter unsafe-proc-mount"],
)
def proc_mount(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    for c in containers(o):
        value = _dict(c.container.get("securityContext")).get("procMount")
        if value is not None and str(value) != "Default":
            yield Hit(
                file=o.file,
                line=o.line_near(*c.path, "securityContext", "procMount"),
                resource=o.resource,
                evidence=f'{c.kind} "{c.name}": securityContext.procMount: {value}',
            )


@ISOLATION.rule(
    "LG-ISO-004",
    category="k8s.apparmor",
    severity=Severity.high,
    title="AppArmor profile set to unconfined",
    message="An unconfined AppArmor profile removes the runtime's default confinement of file,"
    " mount and network operations.",
    remediation="Remove the override (the runtime default applies) or name a Localhost profile.",
    references=["Pod Security Standards baseline (AppArmor)", "CKV_K8S_31"],
)
def apparmor(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    found = pod_spec(o)
    if not found:
        return
    spec, path = found
    prof = _dict(_dict(spec.get("securityContext")).get("appArmorProfile"))
    if str(prof.get("type", "")) == "Unconfined":
        yield _hit(
            o,
            "pod securityContext.appArmorProfile.type: Unconfined",
            *path,
            "securityContext",
            "appArmorProfile",
        )
    for c in containers(o):
        cprof = _dict(_dict(c.container.get("securityContext")).get("appArmorProfile"))
        if str(cprof.get("type", "")) == "Unconfined":
            yield Hit(
                file=o.file,
                line=o.line_near(*c.path, "securityContext", "appArmorProfile"),
                resource=o.resource,
                evidence=f'{c.kind} "{c.name}": securityContext.appArmorProfile.type: Unconfined',
            )
    meta = pod_template_metadata(o) if o.kind != "Pod" else o.metadata
    meta_path = (*path[:-1], "metadata")  # the pod template's metadata, beside its spec
    for key, value in _dict(meta.get("annotations")).items():
        if str(key).startswith(_APPARMOR_ANNOTATION) and str(value).strip() == "unconfined":
            yield Hit(
                file=o.file,
                line=o.line_near(*meta_path, "annotations", str(key)),
                resource=o.resource,
                evidence=f"annotation {key}: unconfined",
            )


@ISOLATION.rule(
    "LG-ISO-005",
    category="k8s.selinux",
    severity=Severity.high,
    title="SELinux options override the container type or user",
    message="Setting seLinuxOptions.user or role, or a type other than the container types,"
    " can run the container under a privileged SELinux domain (spc_t is unconfined).",
    remediation="Remove seLinuxOptions, or keep only `level` (MCS categories).",
    references=["Pod Security Standards baseline (SELinux)"],
)
def selinux(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    found = pod_spec(o)
    if not found:
        return
    spec, path = found
    places: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
        ("pod", _dict(_dict(spec.get("securityContext")).get("seLinuxOptions")), path)
    ]
    for c in containers(o):
        opts = _dict(_dict(c.container.get("securityContext")).get("seLinuxOptions"))
        places.append((f'{c.kind} "{c.name}"', opts, c.path))
    for label, opts, base in places:
        bad = [f"{k}: {opts[k]}" for k in ("user", "role") if opts.get(k)]
        if str(opts.get("type") or "") not in _SELINUX_TYPES:
            bad.append(f"type: {opts['type']}")
        if bad:
            yield Hit(
                file=o.file,
                line=o.line_near(*base, "securityContext", "seLinuxOptions"),
                resource=o.resource,
                evidence=f"{label}: seLinuxOptions {', '.join(bad)}",
            )


def register(registry: Registry) -> None:
    """The `kubernetes.exposure` and `kubernetes.isolation` groups."""
    registry.rules("kubernetes.exposure", "k8s", EXPOSURE)
    registry.rules("kubernetes.isolation", "k8s", ISOLATION)
