"""Prometheus right-sizing: live throttling, memory headroom and restarts of the target's pods.

When `PROMETHEUS_URL` is configured and the step holds the `network` capability, a few instant
queries against the Prometheus HTTP API (`/api/v1/query`) measure what the workloads found in the
target actually do, and the answers become `perf.cpu-throttling`, `perf.memory-near-limit` and
`perf.restarts` findings with a concrete recommendation. Pods are tied to workloads by the names
their controllers give them (`<deployment>-<rs hash>-<pod hash>`, `<statefulset>-<ordinal>`, …).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from llmgenie.core.models import Finding, Severity

from .rules import Hit, RuleSet

__all__ = [
    "QUERIES",
    "PrometheusClient",
    "PrometheusError",
    "Sample",
    "Workload",
    "WorkloadContainer",
    "prometheus_findings",
    "prometheus_rules",
    "query_usage",
]

#: Instant queries, one per signal; each returns one sample per (namespace, pod, container).
QUERIES: dict[str, str] = {
    "throttled_ratio": (
        "sum by (namespace, pod, container) "
        '(rate(container_cpu_cfs_throttled_periods_total{container!="",container!="POD"}[5m]))'
        " / sum by (namespace, pod, container) "
        '(rate(container_cpu_cfs_periods_total{container!="",container!="POD"}[5m]))'
    ),
    "memory_working_set": (
        "max by (namespace, pod, container) "
        '(container_memory_working_set_bytes{container!="",container!="POD"})'
    ),
    "memory_limit": (
        'max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="memory"})'
    ),
    "cpu_limit": (
        'max by (namespace, pod, container) (kube_pod_container_resource_limits{resource="cpu"})'
    ),
    "restarts": (
        "sum by (namespace, pod, container) "
        "(increase(kube_pod_container_status_restarts_total[1h]))"
    ),
}

#: Thresholds: throttled share of CFS periods, working set / limit, restarts in the last hour.
THROTTLE_RATIO = 0.25
THROTTLE_RATIO_HIGH = 0.5
MEMORY_RATIO = 0.9
RESTARTS = 3
RESTARTS_HIGH = 10


class PrometheusError(RuntimeError):
    """Prometheus could not be asked or refused the query; the message says which and where."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class WorkloadContainer:
    name: str
    memory_limit_bytes: float | None = None
    cpu_limit_cores: float | None = None


@dataclass(frozen=True)
class Workload:
    """A pod-bearing object found in the target, as far as Prometheus matching needs it."""

    kind: str
    namespace: str
    name: str
    file: str | None
    line: int | None
    resource: str
    containers: tuple[WorkloadContainer, ...] = ()

    def owns(self, namespace: str, pod: str) -> bool:
        if self.namespace and namespace != self.namespace:
            return False
        pattern = _POD_NAME.get(self.kind)
        if pattern is None:
            return False
        return re.fullmatch(pattern.format(name=re.escape(self.name)), pod) is not None


# Pod names each controller generates (kube-controller-manager naming).
_POD_NAME: dict[str, str] = {
    "Pod": "{name}",
    "Deployment": r"{name}-[a-z0-9]{{6,10}}-[a-z0-9]{{5}}",
    "StatefulSet": r"{name}-\d+",
    "DaemonSet": r"{name}-[a-z0-9]{{5}}",
    "ReplicaSet": r"{name}-[a-z0-9]{{5}}",
    "ReplicationController": r"{name}-[a-z0-9]{{5}}",
    "Job": r"{name}-[a-z0-9]{{5}}",
    "CronJob": r"{name}-\d+-[a-z0-9]{{5}}",
}


class PrometheusClient:
    """A small client for the instant-query endpoint, with short timeouts and plain errors."""

    def __init__(
        self, base_url: str, *, timeout: float = 5.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, promql: str) -> list[Sample]:
        """Run one instant query; return its vector (scalars become one unlabelled sample)."""
        try:
            resp = self._client.get("/api/v1/query", params={"query": promql})
        except httpx.TimeoutException as e:
            raise PrometheusError(f"Prometheus at {self.base_url} timed out: {e}") from e
        except httpx.HTTPError as e:
            raise PrometheusError(f"Prometheus at {self.base_url} is unreachable: {e}") from e
        try:
            body = resp.json()
        except ValueError:
            raise PrometheusError(
                f"Prometheus at {self.base_url} answered HTTP {resp.status_code} "
                "with a body that is not JSON"
            ) from None
        if resp.status_code >= 400 or body.get("status") != "success":
            detail = body.get("error") or f"HTTP {resp.status_code}"
            kind = body.get("errorType", "error")
            raise PrometheusError(
                f"Prometheus at {self.base_url} refused the query ({kind}): {detail}"
            )
        return _samples(body.get("data") or {})


def _samples(data: dict[str, Any]) -> list[Sample]:
    kind = data.get("resultType")
    result = data.get("result")
    if kind == "vector":
        out = []
        for item in result or []:
            value = _number((item.get("value") or [None, None])[1])
            if value is not None:
                out.append(Sample(labels=dict(item.get("metric") or {}), value=value))
        return out
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        value = _number(result[1])
        return [] if value is None else [Sample(labels={}, value=value)]
    return []


def _number(raw: Any) -> float | None:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) or math.isinf(value) else value


@dataclass
class _Usage:
    workload: Workload
    container: str
    throttled_ratio: float | None = None
    memory_working_set: float | None = None
    memory_limit: float | None = None
    cpu_limit: float | None = None
    restarts: float = 0.0
    pods: set[str] = field(default_factory=set)


def query_usage(
    client: PrometheusClient, workloads: Sequence[Workload]
) -> tuple[list[_Usage], int]:
    """Ask every query; fold samples onto (workload, container). Returns usages and unmatched."""
    usage: dict[tuple[str, str], _Usage] = {}
    unmatched: set[tuple[str, str]] = set()
    by_name: dict[str, list[Workload]] = {}
    for w in workloads:
        by_name.setdefault(w.name, []).append(w)
    for signal, promql in QUERIES.items():
        for sample in client.query(promql):
            ns = sample.labels.get("namespace", "")
            pod = sample.labels.get("pod", "")
            container = sample.labels.get("container", "")
            owner = _owner(by_name, ns, pod)
            if owner is None:
                unmatched.add((ns, pod))
                continue
            u = usage.setdefault(
                (owner.resource, container), _Usage(workload=owner, container=container)
            )
            u.pods.add(pod)
            if signal == "restarts":
                u.restarts += sample.value
            else:
                current = getattr(u, signal)
                setattr(u, signal, sample.value if current is None else max(current, sample.value))
    return list(usage.values()), len(unmatched)


def _owner(by_name: dict[str, list[Workload]], namespace: str, pod: str) -> Workload | None:
    """The workload whose name, plus its controller's suffixes, makes this pod name."""
    parts = pod.split("-")
    for n in range(len(parts), 0, -1):  # the pod itself, then ever shorter dash prefixes
        for w in by_name.get("-".join(parts[:n]), ()):
            if w.owns(namespace, pod):
                return w
    return None


prometheus_rules: RuleSet[_Usage] = RuleSet(agent="performance")


@prometheus_rules.rule(
    "LG-PERF-101",
    category="perf.cpu-throttling",
    severity=Severity.medium,
    title="Container is CPU-throttled in production",
    message=(
        "The CFS scheduler throttles this container for a large share of its periods: requests "
        "wait while the CPU limit is exhausted, which shows up as latency spikes."
    ),
    remediation="raise the CPU limit (or drop it and keep the request), or add replicas",
    references=["Prometheus container_cpu_cfs_throttled_periods_total"],
)
def _cpu_throttling(u: _Usage, ctx: Any) -> Iterable[Hit]:
    ratio = u.throttled_ratio
    if ratio is None or ratio < THROTTLE_RATIO:
        return
    limit = u.cpu_limit or _container_limit(u, "cpu")
    if limit:
        suggested = math.ceil(limit * (1 + ratio) * 10) / 10
        fix = f"raise the CPU limit of {u.container} from {limit:g} to about {suggested:g} cores"
    else:
        fix = f"raise the CPU limit of {u.container} or remove it and keep the request"
    yield _hit(
        u,
        evidence=f"container {u.container}: {ratio:.0%} of CFS periods throttled (5m rate)",
        severity=Severity.high if ratio >= THROTTLE_RATIO_HIGH else None,
        remediation=fix,
    )


@prometheus_rules.rule(
    "LG-PERF-102",
    category="perf.memory-near-limit",
    severity=Severity.high,
    title="Container memory is close to its limit",
    message=(
        "The working set is within 10% of the memory limit: the next spike is an OOM kill and "
        "a restart."
    ),
    remediation="raise the memory limit to about 1.3x the observed working set",
    references=["Prometheus container_memory_working_set_bytes"],
)
def _memory_near_limit(u: _Usage, ctx: Any) -> Iterable[Hit]:
    limit = u.memory_limit or _container_limit(u, "memory")
    ws = u.memory_working_set
    if not limit or ws is None or ws / limit < MEMORY_RATIO:
        return
    suggested = _mib(ws * 1.3)
    yield _hit(
        u,
        evidence=(
            f"container {u.container}: working set {_mib(ws)}Mi of {_mib(limit)}Mi limit "
            f"({ws / limit:.0%})"
        ),
        remediation=f"raise the memory limit of {u.container} to about {suggested}Mi",
    )


@prometheus_rules.rule(
    "LG-PERF-103",
    category="perf.restarts",
    severity=Severity.medium,
    title="Container keeps restarting",
    message=(
        "The container restarted several times in the last hour: crashes, OOM kills or failing "
        "liveness probes cost capacity and drop requests."
    ),
    remediation="read the previous container's logs (kubectl logs --previous) and its last state",
    references=["Prometheus kube_pod_container_status_restarts_total"],
)
def _restarts(u: _Usage, ctx: Any) -> Iterable[Hit]:
    if u.restarts < RESTARTS:
        return
    yield _hit(
        u,
        evidence=f"container {u.container}: {u.restarts:.0f} restarts in the last hour",
        severity=Severity.high if u.restarts >= RESTARTS_HIGH else None,
    )


def _hit(
    u: _Usage, *, evidence: str, severity: Severity | None = None, remediation: str | None = None
) -> Hit:
    w = u.workload
    return Hit(
        file=w.file,
        line=w.line,
        resource=w.resource,
        evidence=evidence,
        severity=severity,
        remediation=remediation,
    )


def _container_limit(u: _Usage, resource: str) -> float | None:
    for c in u.workload.containers:
        if c.name == u.container:
            return c.memory_limit_bytes if resource == "memory" else c.cpu_limit_cores
    return None


def _mib(n: float) -> int:
    return math.ceil(n / (1024 * 1024))


def prometheus_findings(
    base_url: str,
    workloads: Sequence[Workload],
    *,
    timeout: float = 5.0,
    transport: httpx.BaseTransport | None = None,
) -> tuple[list[Finding], dict[str, Any]]:
    """Query Prometheus about `workloads`; return findings and a structured summary.

    Raises `PrometheusError` when Prometheus is unreachable or refuses a query.
    """
    with PrometheusClient(base_url, timeout=timeout, transport=transport) as client:
        usages, unmatched = query_usage(client, workloads)
    findings = [f for u in usages for f in prometheus_rules.run(u, None)]
    output = {
        "url": base_url,
        "containers_measured": len(usages),
        "pods_not_in_target": unmatched,
        "usage": [
            {
                "resource": u.workload.resource,
                "container": u.container,
                "pods": sorted(u.pods),
                "throttled_ratio": u.throttled_ratio,
                "memory_working_set_bytes": u.memory_working_set,
                "memory_limit_bytes": u.memory_limit,
                "cpu_limit_cores": u.cpu_limit,
                "restarts_1h": u.restarts,
            }
            for u in sorted(usages, key=lambda u: (u.workload.resource, u.container))
        ],
    }
    return findings, output
