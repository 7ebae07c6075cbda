"""Performance rules over Kubernetes objects: `perf.*` findings (ids `LG-PERF-001…`).

Each rule is one `check(object, ctx)` over a parsed `K8sObject`, with the `ScanContext` as
`ctx` for what lies across resources (HPAs, PDBs). Missing requests and limits are the
security toolset's `k8s.cpu-limits` & co.; these rules only judge values that are present.

Decisions (thresholds a reviewer may want to move):

* CPU limit above 4x the request: the container is scheduled for the request but bursts to the
  limit, so under contention it is throttled far below what it has learnt to use (kube-score
  and Google's guidance keep the two close).
* Memory limit above 2x the request, or any memory limit different from the request on a
  critical workload (a StatefulSet, or one with a priorityClassName): the node is overcommitted on
  memory, so under pressure the kubelet evicts or the kernel OOM-kills pods that stayed within their
  limit. Memory is not compressible; requests == limits is the safe shape for what must not die.
* BestEffort QoS (no requests or limits at all) on a long-running controller: first evicted.
* `-Xmx` at or above 85% of the memory limit: heap plus metaspace, thread stacks, code cache
  and direct buffers then overrun the limit and the JVM is OOM-killed instead of throwing
  OutOfMemoryError. `-XX:MaxRAMPercentage` up to 85 is the recommended form.
* A liveness probe that gives a starting container less than 30s (60s for a JVM) before
  restarting it, with no startupProbe, kills slow starters in a restart loop.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Iterator
from typing import Any

from llmgenie.core.models import Severity

from ..parsing.kubernetes import ContainerRef, K8sObject, pod_spec, runtime_containers
from ..parsing.quantity import cpu_cores, java_size_bytes, memory_bytes
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = [
    "CPU_LIMIT_REQUEST_RATIO",
    "GROUPS",
    "JVM_HEAP_LIMIT_SHARE",
    "MEMORY_LIMIT_REQUEST_RATIO",
    "SCALABLE_KINDS",
    "jvm_max_heap",
    "register",
]

CPU_LIMIT_REQUEST_RATIO = 4.0
MEMORY_LIMIT_REQUEST_RATIO = 2.0
JVM_HEAP_LIMIT_SHARE = 0.85
JVM_MAX_RAM_PERCENTAGE = 85.0
LIVENESS_START_BUDGET_SECONDS = 30
LIVENESS_START_BUDGET_JVM_SECONDS = 60

#: Controllers that keep pods running and can be scaled (HPA, PDB, replicas apply).
SCALABLE_KINDS = frozenset({"Deployment", "StatefulSet"})
#: Long-running pod owners (BestEffort matters for these, not for run-to-completion Jobs).
LONG_RUNNING_KINDS = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController"}
)
#: Environment variables the JVM (or its launch scripts) reads options from.
JAVA_OPTION_VARS = ("JAVA_OPTS", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")

# The rule groups of this module, by what they check (the Performance agent's rules).
SIZING: RuleSet[K8sObject] = RuleSet(agent="performance")
AVAILABILITY: RuleSet[K8sObject] = RuleSet(agent="performance")
PROBE_TIMING: RuleSet[K8sObject] = RuleSet(agent="performance")


def _resources(c: ContainerRef) -> tuple[dict[str, Any], dict[str, Any]]:
    res = c.container.get("resources")
    res = res if isinstance(res, dict) else {}
    req, lim = res.get("requests"), res.get("limits")
    return (req if isinstance(req, dict) else {}), (lim if isinstance(lim, dict) else {})


def _hit(o: K8sObject, c: ContainerRef | None, evidence: str, *path: str | int, **kw: Any) -> Hit:
    base = c.path if c is not None else ()
    return Hit(
        file=o.file,
        line=o.line_near(*base, *path),
        resource=o.resource,
        evidence=evidence,
        **kw,
    )


def _is_critical(o: K8sObject) -> bool:
    if o.kind == "StatefulSet":
        return True
    spec = pod_spec(o)
    return bool(spec and spec[0].get("priorityClassName"))


def _replicas(o: K8sObject) -> int | None:
    spec = o.obj.get("spec")
    value = spec.get("replicas") if isinstance(spec, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@SIZING.rule(
    "LG-PERF-001",
    category="perf.limit-request-ratio",
    severity=Severity.low,
    title="CPU limit far above the request",
    message=(
        f"The CPU limit is more than {CPU_LIMIT_REQUEST_RATIO:g}x the request: the pod is "
        "scheduled for the request but bursts to the limit, so when the node is busy it is "
        "throttled far below what it has come to rely on and latency jumps."
    ),
    remediation="bring the CPU request closer to real usage, within 4x of the limit",
    references=["kube-score container-resources", "kube-score container-cpu-requests-equal-limits"],
)
def _cpu_ratio(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    for c in runtime_containers(o):
        req, lim = _resources(c)
        request, limit = cpu_cores(req.get("cpu")), cpu_cores(lim.get("cpu"))
        if request and limit and limit > CPU_LIMIT_REQUEST_RATIO * request:
            yield _hit(
                o,
                c,
                f"container {c.name}: cpu limit {lim['cpu']} is {limit / request:.3g}x "
                f"request {req['cpu']}",
                "resources",
                "limits",
                "cpu",
            )


@SIZING.rule(
    "LG-PERF-002",
    category="perf.limit-request-ratio",
    severity=Severity.medium,
    title="Memory limit differs from the request",
    message=(
        f"The memory limit is more than {MEMORY_LIMIT_REQUEST_RATIO:g}x the request (or, for a "
        "critical workload, not equal to it): the node is overcommitted on memory, which cannot "
        "be throttled, so under pressure the pod is evicted or OOM-killed although it stayed "
        "within its limit."
    ),
    remediation="set the memory request equal to the limit (Guaranteed memory)",
    references=["kube-score container-memory-requests-equal-limits"],
)
def _memory_ratio(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    critical = _is_critical(o)
    for c in runtime_containers(o):
        req, lim = _resources(c)
        request, limit = memory_bytes(req.get("memory")), memory_bytes(lim.get("memory"))
        if not request or not limit or limit <= request:
            continue
        if limit > MEMORY_LIMIT_REQUEST_RATIO * request:
            why = f"{limit / request:.3g}x request {req['memory']}"
        elif critical:
            why = f"!= request {req['memory']} on a critical {o.kind}"
        else:
            continue
        yield _hit(
            o,
            c,
            f"container {c.name}: memory limit {lim['memory']} {why}",
            "resources",
            "limits",
            "memory",
        )


@SIZING.rule(
    "LG-PERF-003",
    category="perf.qos-besteffort",
    severity=Severity.medium,
    title="Workload runs with BestEffort QoS",
    message=(
        "No container sets any request or limit, so the pods get the BestEffort QoS class: the "
        "scheduler places them anywhere and the kubelet evicts them first under node pressure."
    ),
    remediation="set CPU and memory requests (and a memory limit) on every container",
    references=["kube-score container-resources", "Kubernetes Pod QoS classes"],
)
def _besteffort(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    if o.kind not in LONG_RUNNING_KINDS:
        return
    cs = list(runtime_containers(o))
    if not cs:
        return
    for c in cs:
        req, lim = _resources(c)
        if any(k in req or k in lim for k in ("cpu", "memory")):
            return
    yield _hit(o, None, f"{len(cs)} container(s), no requests or limits: QoS BestEffort")


@AVAILABILITY.rule(
    "LG-PERF-004",
    category="perf.single-replica",
    severity=Severity.medium,
    title="Single replica with no disruption budget",
    message=(
        "One replica and no PodDisruptionBudget: every node drain, upgrade or eviction takes the "
        "service down until the pod is rescheduled and ready again."
    ),
    remediation="run at least 2 replicas (spread across nodes) and add a PodDisruptionBudget",
    references=["kube-score deployment-replicas", "kube-linter minimum-three-replicas"],
)
def _single_replica(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    if o.kind not in SCALABLE_KINDS or ctx is None:
        return
    replicas = _replicas(o)
    if replicas is not None and replicas != 1:
        return  # 0: scaled down on purpose; >1: not single
    if ctx.has_hpa(o) or ctx.has_pdb(o):
        return
    shown = "unset (defaults to 1)" if replicas is None else "1"
    yield _hit(o, None, f"spec.replicas: {shown}; no PodDisruptionBudget", "spec", "replicas")


@AVAILABILITY.rule(
    "LG-PERF-005",
    category="perf.no-pdb",
    severity=Severity.low,
    title="Replicated workload has no PodDisruptionBudget",
    message=(
        "Nothing limits how many replicas a node drain or cluster upgrade may evict at once, so "
        "voluntary disruptions can take all of them down together."
    ),
    remediation="add a PodDisruptionBudget selecting these pods (e.g. maxUnavailable: 1)",
    references=[
        "kube-score deployment-has-poddisruptionbudget",
        "kube-score statefulset-has-poddisruptionbudget",
    ],
)
def _no_pdb(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    if o.kind not in SCALABLE_KINDS or ctx is None:
        return
    replicas = _replicas(o)
    hpa = ctx.has_hpa(o)
    if not hpa and (replicas is None or replicas <= 1):
        return  # single replica: perf.single-replica covers it
    if ctx.has_pdb(o):
        return
    shown = "managed by an HPA" if hpa else f"replicas {replicas}"
    yield _hit(o, None, f"{shown}; no PodDisruptionBudget selects the pod labels")


@AVAILABILITY.rule(
    "LG-PERF-006",
    category="perf.no-hpa",
    severity=Severity.low,
    title="No HorizontalPodAutoscaler",
    message=(
        "No HPA targets this workload, so its replica count is fixed: load peaks are served by "
        "the same pods (latency, throttling) and quiet hours pay for idle ones."
    ),
    remediation="add a HorizontalPodAutoscaler (autoscaling/v2) whose scaleTargetRef names it",
    references=["kube-score horizontalpodautoscaler-has-target"],
)
def _no_hpa(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    if o.kind not in SCALABLE_KINDS or ctx is None:
        return
    if _replicas(o) == 0 or ctx.has_hpa(o):
        return
    yield _hit(o, None, f"no HorizontalPodAutoscaler with scaleTargetRef {o.kind}/{o.name}")


@AVAILABILITY.rule(
    "LG-PERF-007",
    category="perf.hpa-replicas-conflict",
    severity=Severity.medium,
    title="HPA target also sets spec.replicas",
    message=(
        "An HPA scales this workload, yet the manifest pins spec.replicas: every apply resets the "
        "replica count to the pinned value, scaling the service down in the middle of a peak."
    ),
    remediation="remove spec.replicas from the manifest and let the HPA's minReplicas rule",
    references=["kube-score deployment-targeted-by-hpa-does-not-have-replicas-configured"],
)
def _hpa_replicas(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    if o.kind not in SCALABLE_KINDS or ctx is None or not ctx.has_hpa(o):
        return
    replicas = _replicas(o)
    if replicas is None:
        return
    yield _hit(o, None, f"spec.replicas: {replicas} while an HPA targets it", "spec", "replicas")


_XMX = re.compile(r"^-(?:Xmx|XX:MaxHeapSize=)(\S+)$")
_MAX_RAM_PCT = re.compile(r"^-XX:MaxRAMPercentage=(\d+(?:\.\d+)?)$")


def _java_tokens(c: ContainerRef) -> Iterator[tuple[str, tuple[str | int, ...]]]:
    """JVM option tokens from JAVA_OPTS-style env vars, command and args, with their paths."""
    env = c.container.get("env")
    for i, e in enumerate(env if isinstance(env, list) else []):
        if isinstance(e, dict) and e.get("name") in JAVA_OPTION_VARS:
            value = e.get("value")
            if isinstance(value, str):
                for token in value.split():
                    yield token, ("env", i, "value")
    for key in ("command", "args"):
        items = c.container.get(key)
        for i, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, str):
                continue
            try:
                tokens = shlex.split(item) if " " in item else [item]
            except ValueError:
                tokens = item.split()
            for token in tokens:
                yield token, (key, i)


def jvm_max_heap(c: ContainerRef) -> tuple[int | str, str, tuple[str | int, ...]] | None:
    """The last heap setting of a container: (-Xmx bytes | MaxRAMPercentage string, flag, path)."""
    found = None
    for token, path in _java_tokens(c):
        if m := _XMX.match(token):
            size = java_size_bytes(m.group(1))
            if size is not None:
                found = (size, token, path)
        elif m := _MAX_RAM_PCT.match(token):
            found = (m.group(1), token, path)
    return found


@SIZING.rule(
    "LG-PERF-008",
    category="perf.jvm-heap-vs-limit",
    severity=Severity.high,
    title="JVM heap leaves no room under the memory limit",
    message=(
        "The maximum heap is at or near the container's memory limit. The JVM also needs "
        "metaspace, thread stacks, code cache and direct buffers outside the heap, so the "
        "container is OOM-killed (exit 137) instead of the JVM throwing OutOfMemoryError."
    ),
    remediation=(
        "drop -Xmx and use -XX:MaxRAMPercentage=75, or keep -Xmx at most ~75% of the memory limit"
    ),
    references=["JDK-8146115 container support", "kube-score container-resources"],
)
def _jvm_heap(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    for c in runtime_containers(o):
        heap = jvm_max_heap(c)
        if heap is None:
            continue
        value, flag, path = heap
        if isinstance(value, str):
            if float(value) > JVM_MAX_RAM_PERCENTAGE:
                yield _hit(
                    o,
                    c,
                    f"container {c.name}: {flag} leaves under 15% of the limit off-heap",
                    *path,
                    severity=Severity.medium,
                )
            continue
        _, lim = _resources(c)
        limit = memory_bytes(lim.get("memory"))
        if not limit or value < JVM_HEAP_LIMIT_SHARE * limit:
            continue
        yield _hit(
            o,
            c,
            f"container {c.name}: {flag} is {value / limit:.0%} of memory limit {lim['memory']}",
            *path,
            severity=Severity.high if value >= limit else Severity.medium,
        )


def _probe_budget(probe: dict[str, Any]) -> int:
    """Seconds a probe lets a starting container fail before it is restarted."""

    def num(key: str, default: int) -> int:
        v = probe.get(key)
        return v if isinstance(v, int) and not isinstance(v, bool) else default

    return num("initialDelaySeconds", 0) + num("failureThreshold", 3) * num("periodSeconds", 10)


def _looks_jvm(c: ContainerRef) -> bool:
    image = str(c.container.get("image") or "").lower()
    if any(k in image for k in ("java", "jdk", "jre", "openjdk", "temurin", "corretto", "tomcat")):
        return True
    return jvm_max_heap(c) is not None or any(
        isinstance(e, dict) and e.get("name") in JAVA_OPTION_VARS
        for e in c.container.get("env") or []
    )


@PROBE_TIMING.rule(
    "LG-PERF-009",
    category="perf.probe-kills-slow-start",
    severity=Severity.medium,  # JVMs; low for other containers, which start faster
    title="Liveness probe may kill the container while it starts",
    message=(
        "The liveness probe starts failing a container that is still starting, and there is no "
        "startupProbe to hold it off: a slow start (cold cache, JVM warm-up, migrations) turns "
        "into a restart loop."
    ),
    remediation=(
        "add a startupProbe (same check, failureThreshold x periodSeconds covering the slowest "
        "start) or raise the liveness initialDelaySeconds"
    ),
    references=["kube-score pod-probes", "Kubernetes startup probes"],
)
def _probe_slow_start(o: K8sObject, ctx: Any) -> Iterable[Hit]:
    for c in runtime_containers(o):
        if c.kind != "container":
            continue
        probe = c.container.get("livenessProbe")
        if not isinstance(probe, dict) or isinstance(c.container.get("startupProbe"), dict):
            continue
        budget = _probe_budget(probe)
        jvm = _looks_jvm(c)
        limit = LIVENESS_START_BUDGET_JVM_SECONDS if jvm else LIVENESS_START_BUDGET_SECONDS
        if budget >= limit:
            continue
        yield _hit(
            o,
            c,
            f"container {c.name}: liveness allows {budget}s to start (< {limit}s"
            f"{' for a JVM' if jvm else ''}), no startupProbe",
            "livenessProbe",
            severity=None if jvm else Severity.low,
        )


#: Group name -> its rules (every Kubernetes object is their subject).
GROUPS: dict[str, RuleSet[K8sObject]] = {
    "kubernetes.resource-sizing": SIZING,
    "kubernetes.availability": AVAILABILITY,
    "kubernetes.probe-timing": PROBE_TIMING,
}


def register(registry: Registry) -> None:
    """The Kubernetes capacity groups: resource sizing, availability and probe timing."""
    for name, rules in GROUPS.items():
        registry.rules(name, "k8s", rules)
