"""Performance collectors: live Prometheus right-sizing for the workloads of the target."""

from __future__ import annotations

from collections.abc import Iterable

from llmgenie.core.models import Capability, Finding
from llmgenie.core.settings import get_settings

from ..base import ToolsetInput, ToolsetResult
from ..parsing.kubernetes import K8sObject, containers
from ..parsing.quantity import cpu_cores, memory_bytes
from ..prometheus import PrometheusError, Workload, WorkloadContainer, prometheus_findings
from ..scanning import Scan

__all__ = ["collect_prometheus", "prometheus_url", "workloads_of"]


def workloads_of(objects: Iterable[K8sObject]) -> list[Workload]:
    """Pod-bearing objects as Prometheus matching needs them (name, namespace, limits)."""
    out = []
    for o in objects:
        cs = []
        for c in containers(o):
            res = c.container.get("resources")
            lim = res.get("limits") if isinstance(res, dict) else None
            lim = lim if isinstance(lim, dict) else {}
            cs.append(
                WorkloadContainer(
                    c.name,
                    memory_limit_bytes=memory_bytes(lim.get("memory")),
                    cpu_limit_cores=cpu_cores(lim.get("cpu")),
                )
            )
        if cs:
            out.append(
                Workload(
                    kind=o.kind,
                    namespace=o.namespace or "",
                    name=o.name,
                    file=o.file,
                    line=o.line,
                    resource=o.resource,
                    containers=tuple(cs),
                )
            )
    return out


def prometheus_url(inp: ToolsetInput) -> str | None:
    """`settings["prometheus_url"]` of the step, else `PROMETHEUS_URL` from the environment."""
    return inp.settings.get("prometheus_url") or get_settings().prometheus_url


def collect_prometheus(inp: ToolsetInput, scan: Scan, findings: list[Finding]) -> ToolsetResult:
    """Query Prometheus when configured and allowed; otherwise say why it did not run."""
    url = prometheus_url(inp)
    if not url:
        return ToolsetResult()
    if Capability.network not in inp.capabilities:
        return ToolsetResult(
            notes=[f"Prometheus at {url} not queried: the step lacks the `network` capability"]
        )
    workloads = workloads_of(scan.k8s_objects())
    if not workloads:
        return ToolsetResult(notes=["Prometheus not queried: no workloads in the target"])
    timeout = float(inp.settings.get("prometheus_timeout", 5.0))
    try:
        found, output = prometheus_findings(url, workloads, timeout=timeout)
    except PrometheusError as exc:
        return ToolsetResult(
            notes=[str(exc)], output={"prometheus": {"url": url, "error": str(exc)}}
        )
    return ToolsetResult(
        findings=found,
        output={"prometheus": output},
        notes=[f"Prometheus at {url}: {output['containers_measured']} container(s) measured"],
    )
