"""Service catalogue and per-service runbook skeletons in Markdown, from the inventory and reports.

Written for a new team member: what runs, who owns it, how to deploy it, what to watch, which
known risks the other agents found (with file:line), and how to roll back. Everything comes from
the inventory (DevOps) and the findings of the other agents; nothing is invented, and where the
target does not say (an owner, a probe), the runbook says so and how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from llmgenie.core.models import AgentReport, Finding, severity_counts
from llmgenie.core.render import md_cell

__all__ = [
    "OWNER_UNKNOWN",
    "merge_definitions",
    "render_catalogue",
    "render_runbook",
    "service_key",
]

OWNER_UNKNOWN = (
    "unknown — set the `owner` / `team` annotation or the `app.kubernetes.io/managed-by` label"
)
_ROLLOUT_KINDS = {
    "Deployment": "deployment",
    "StatefulSet": "statefulset",
    "DaemonSet": "daemonset",
}
_MAX_RISKS = 25
_NOTHING_SELECTED = "**nothing** (selector matches no workload)"


def _unique(values: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(values))


def merge_definitions(items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per resource: the same workload or Service defined by several variants (Kustomize
    overlays, a chart's CI values) or files is merged, first definition first. `defined_in` lists
    every `file:line`; the Services a workload is exposed by and the workloads a Service selects
    are de-duplicated."""
    merged: dict[str, dict[str, Any]] = {}
    for item in items:
        where = f"{item['file']}:{item['line']}"
        first = merged.get(item["resource"])
        if first is None:
            first = merged[item["resource"]] = dict(item) | {"defined_in": []}
            for key in ("services", "selects"):
                if key in first:
                    first[key] = []
        first["defined_in"] = _unique([*first["defined_in"], where])
        for key in ("services", "selects"):
            if key in item:
                first[key] = _unique([*first[key], *item[key]])
        if "containers" in item:
            seen = {(c.get("name"), c.get("image")) for c in first["containers"]}
            first["containers"] = first["containers"] + [
                c for c in item["containers"] if (c.get("name"), c.get("image")) not in seen
            ]
    return list(merged.values())


def _defined_in(w: dict[str, Any]) -> str:
    places = w.get("defined_in") or [f"{w['file']}:{w['line']}"]
    if len(places) == 1:
        return f"defined in `{places[0]}`"
    return f"defined in {len(places)} places (variants): " + ", ".join(f"`{p}`" for p in places)


def service_key(w: dict[str, Any], duplicates: set[str]) -> str:
    """The runbook key of a workload: its name, or `namespace/name` when names repeat."""
    return f"{w['namespace'] or 'default'}/{w['name']}" if w["name"] in duplicates else w["name"]


def _ns_flag(w: dict[str, Any]) -> str:
    return f"-n {w['namespace']} " if w.get("namespace") else ""


def _images(w: dict[str, Any]) -> list[str]:
    return [c["image"] for c in w.get("containers", []) if c.get("kind") != "ephemeralContainer"]


def _ports(w: dict[str, Any]) -> list[str]:
    return [
        f"{p.get('containerPort')}/{p.get('protocol', 'TCP')}"
        for c in w.get("containers", [])
        for p in c.get("ports", [])
    ]


def _risks_for(w: dict[str, Any], findings: Iterable[Finding] | _ByResource) -> list[Finding]:
    if isinstance(findings, _ByResource):
        mine = findings.get(w["resource"], [])
    else:
        mine = [f for f in findings if f.resource == w["resource"]]
    return sorted(mine, key=lambda f: (-f.severity.rank, f.file or "", f.line or 0, f.rule_id))


def _issues(w: dict[str, Any], findings: Iterable[Finding] | _ByResource) -> list[list[Finding]]:
    """The workload's findings, one group per issue: the same rule with the same evidence in
    several variants (or definitions) is one issue found in several places."""
    issues: dict[tuple[str, str], list[Finding]] = {}
    for f in _risks_for(w, findings):
        issues.setdefault((f.rule_id, f.evidence or ""), []).append(f)
    return list(issues.values())


class _ByResource(dict[str, list[Finding]]):
    """Findings indexed by resource, so linking them to workloads stays linear."""

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> _ByResource:
        out = cls()
        for f in findings:
            if f.resource:
                out.setdefault(f.resource, []).append(f)
        return out


def _where(f: Finding) -> str:
    return f"`{f.location}`" if f.location else "—"


def _replicas(w: dict[str, Any]) -> str:
    hpa = w.get("autoscaler")
    if hpa:
        return f"HPA {hpa.get('minReplicas', '?')} to {hpa.get('maxReplicas', '?')}"
    if w["kind"] == "DaemonSet":
        return "one per node"
    if w.get("schedule"):
        return f"cron `{w['schedule']}`"
    return str(w["replicas"]) if w.get("replicas") is not None else "—"


def _deploy(w: dict[str, Any]) -> list[str]:
    ns, kind, name = _ns_flag(w), w["kind"], w["name"]
    lines = [f"1. Change `{w['file']}` (image tag, config) in a reviewed merge request.", ""]
    lines += ["2. Apply it:", "", "   ```sh", f"   kubectl {ns}apply -f {w['file']}"]
    if kind in _ROLLOUT_KINDS:
        lines += [f"   kubectl {ns}rollout status {_ROLLOUT_KINDS[kind]}/{name} --timeout=5m"]
    elif kind == "CronJob":
        lines += [f"   kubectl {ns}create job {name}-manual --from=cronjob/{name}  # run once now"]
    elif kind == "Job":
        lines += [f"   kubectl {ns}wait --for=condition=complete job/{name} --timeout=30m"]
    lines += ["   ```", ""]
    if not w.get("namespace"):
        lines += ["   The manifest names no namespace: pass `-n <namespace>` to every command.", ""]
    return lines


def _rollback(w: dict[str, Any]) -> list[str]:
    ns, kind, name = _ns_flag(w), w["kind"], w["name"]
    if kind in _ROLLOUT_KINDS:
        res = f"{_ROLLOUT_KINDS[kind]}/{name}"
        out = [
            "```sh",
            f"kubectl {ns}rollout history {res}",
            f"kubectl {ns}rollout undo {res}            # or --to-revision=N",
            f"kubectl {ns}rollout status {res}",
            "```",
            "",
            "Then revert the change in git so the next apply does not roll forward again.",
        ]
        if kind == "StatefulSet":
            out += [
                "",
                "A StatefulSet rolls back pod by pod, highest ordinal first; a data migration the "
                "new version ran is **not** undone — restore from backup if the schema changed.",
            ]
        return out
    if kind == "CronJob":
        return [
            "Suspend it, then re-apply the previous manifest from git:",
            "",
            "```sh",
            f'kubectl {ns}patch cronjob {name} -p \'{{"spec":{{"suspend":true}}}}\'',
            f"git checkout <previous-commit> -- {w['file']} && kubectl {ns}apply -f {w['file']}",
            "```",
        ]
    return [
        "Re-apply the previous manifest from git:",
        "",
        "```sh",
        f"git checkout <previous-commit> -- {w['file']} && kubectl {ns}apply -f {w['file']}",
        "```",
    ]


def _kv(values: dict[str, Any] | None) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items()) if values else "**none**"


def _watch(w: dict[str, Any], usage: list[dict[str, Any]]) -> list[str]:
    ns_sel = f'namespace="{w["namespace"]}", ' if w.get("namespace") else ""
    pod_sel = f'pod=~"{w["name"]}-.*"'
    out: list[str] = []
    for c in w.get("containers", []):
        probes = c.get("probes") or {}
        desc = ", ".join(
            f"{k} {p.get('type')} {p.get('path', '')}{':' if p.get('port') else ''}"
            f"{p.get('port', '')}".strip()
            for k, p in probes.items()
        )
        res = c.get("resources") or {}
        out.append(
            f"- container `{c['name']}`: probes {desc or '**none** — add readiness and liveness'}; "
            f"requests {_kv(res.get('requests'))}, limits {_kv(res.get('limits'))}"
        )
    out += [
        "",
        "Prometheus queries (kube-state-metrics and cAdvisor):",
        "",
        "```promql",
        f"increase(kube_pod_container_status_restarts_total{{{ns_sel}{pod_sel}}}[1h])",
        f"rate(container_cpu_cfs_throttled_periods_total{{{ns_sel}{pod_sel}}}[5m])"
        f" / rate(container_cpu_cfs_periods_total{{{ns_sel}{pod_sel}}}[5m])",
        f"container_memory_working_set_bytes{{{ns_sel}{pod_sel}}}"
        f' / on(namespace, pod, container) kube_pod_container_resource_limits{{resource="memory"}}',
        "```",
    ]
    mine = [u for u in usage if u.get("resource") == w["resource"]]
    if mine:
        out += ["", "Measured (Prometheus, at report time):", ""]
        for u in mine:
            ratio = u.get("throttled_ratio")
            ws, lim = u.get("memory_working_set_bytes"), u.get("memory_limit_bytes")
            parts = [f"restarts/1h {u.get('restarts_1h', 0):.0f}"]
            if ratio is not None:
                parts.append(f"CPU throttled {ratio:.0%}")
            if ws is not None:
                parts.append(
                    f"memory {ws / 2**20:.0f}Mi" + (f" of {lim / 2**20:.0f}Mi" if lim else "")
                )
            out.append(f"- `{u.get('container')}`: " + ", ".join(parts))
    return out


def render_runbook(
    w: dict[str, Any],
    findings: Iterable[Finding] | _ByResource,
    usage: list[dict[str, Any]] | None = None,
) -> str:
    """The runbook skeleton of one workload of the inventory."""
    lines = [f"# Runbook: {w['name']}", ""]
    lines += [
        f"{w['kind']} `{w['name']}` in namespace `{w['namespace'] or '(none set: default)'}`, "
        f"{_defined_in(w)}.",
        "",
        "## At a glance",
        "",
        "| | |",
        "|---|---|",
        f"| Owner | {md_cell(w.get('owner') or OWNER_UNKNOWN)} |",
        f"| Images | {md_cell(', '.join(f'`{i}`' for i in _images(w)) or '—')} |",
        f"| Replicas | {md_cell(_replicas(w))} |",
        f"| Disruption budget | {'yes' if w.get('disruption_budget') else 'none'} |",
        f"| Ports | {md_cell(', '.join(_ports(w)) or '—')} |",
        f"| Services | {md_cell(', '.join(w.get('services') or []) or 'none select it')} |",
        f"| Service account | {md_cell(w.get('service_account') or 'default')} |",
        "",
        "## Ownership",
        "",
        f"Owner: {w.get('owner') or OWNER_UNKNOWN}.",
        "",
        "## How to deploy",
        "",
        *_deploy(w),
        "## Configuration",
        "",
    ]
    for c in w.get("containers", []):
        env = ", ".join(f"`{e}`" for e in c.get("env", [])) or "none"
        env_from = ", ".join(f"`{e}`" for e in c.get("env_from", []))
        mounts = ", ".join(
            f"`{m['name']}` at `{m['mountPath']}`" for m in c.get("volume_mounts", [])
        )
        lines.append(
            f"- `{c['name']}` ({c.get('kind')}): env {env}"
            + (f"; from {env_from}" if env_from else "")
            + (f"; mounts {mounts}" if mounts else "")
        )
    vols = ", ".join(f"`{v['name']}` ({v['type']})" for v in w.get("volumes", []))
    lines += ["", f"Volumes: {vols or 'none'}.", "", "## What to watch", ""]
    lines += _watch(w, usage or [])
    lines += ["", "## Known risks", ""]
    risks = _issues(w, findings)
    if not risks:
        lines.append("No findings from the other agents for this workload.")
    for same in risks[:_MAX_RISKS]:
        f = same[0]
        lines.append(
            f"- **{f.severity.value}** {f.rule_id} {f.title} — "
            + ", ".join(_unique(_where(g) for g in same))
            + (f" — {f.evidence}" if f.evidence else "")
            + (f". Fix: {f.remediation}" if f.remediation else "")
        )
    if len(risks) > _MAX_RISKS:
        lines.append(f"- … and {len(risks) - _MAX_RISKS} more in the full report.")
    lines += ["", "## How to roll back", "", *_rollback(w), ""]
    return "\n".join(lines)


def _compose_runbook(s: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"# Runbook: {s['name']} (docker compose)",
            "",
            f"Defined in `{s['file']}`; image "
            f"`{s.get('image') or 'built from ' + str(s.get('build'))}`.",
            "",
            "## Ownership",
            "",
            f"Owner: {OWNER_UNKNOWN}.",
            "",
            "## How to deploy",
            "",
            "```sh",
            f"docker compose -f {s['file']} pull {s['name']}",
            f"docker compose -f {s['file']} up -d {s['name']}",
            "```",
            "",
            "## What to watch",
            "",
            f"`docker compose -f {s['file']} ps {s['name']}` and "
            f"`docker compose -f {s['file']} logs --since 10m {s['name']}`.",
            f"Environment variables: {', '.join(f'`{e}`' for e in s.get('env', [])) or 'none'}.",
            "",
            "## How to roll back",
            "",
            "Set the previous image tag in the compose file (from git) and run `up -d` again.",
            "",
        ]
    )


def render_catalogue(
    inventory: dict[str, Any],
    reports: Iterable[AgentReport] = (),
    findings: Iterable[Finding] = (),
    *,
    title: str = "Service catalogue",
    cloud: Iterable[dict[str, Any]] = (),
) -> dict[str, Any]:
    """`{"catalogue_md", "runbooks": {service: md}, "summary"}` from an inventory and reports;
    `cloud` are the Terraform resources to list (`documentation/cloud.py`)."""
    reports = list(reports)
    all_findings: dict[str, Finding] = {f.id: f for f in findings}
    for r in reports:
        for f in r.findings:
            all_findings.setdefault(f.id, f)
    fs = list(all_findings.values())
    by_resource = _ByResource.of(fs)
    usage: list[dict[str, Any]] = []
    for r in reports:
        usage += (r.output.get("prometheus") or {}).get("usage") or []
    workloads = merge_definitions(inventory.get("workloads", []))
    names = [w["name"] for w in workloads]
    duplicates = {n for n in names if names.count(n) > 1}

    lines = [f"# {title}", ""]
    sources = sorted({r.agent for r in reports})
    lines += [
        "Generated by llmgenie from the target's manifests"
        + (f" and the reports of: {', '.join(sources)}" if sources else "")
        + ". Runbooks follow, one per service.",
        "",
        "## Services",
        "",
    ]
    if workloads:
        lines += [
            "| Service | Kind | Namespace | Images | Replicas | Exposed by | Owner | Open risks |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for w in workloads:
            risks = severity_counts(same[0] for same in _issues(w, by_resource))
            risk_text = ", ".join(f"{n} {s}" for s, n in risks.items()) or "none found"
            lines.append(
                f"| {md_cell(service_key(w, duplicates))} | {w['kind']} "
                f"| {md_cell(w['namespace'] or '—')} "
                f"| {md_cell(', '.join(_images(w)) or '—')} | {md_cell(_replicas(w))} "
                f"| {md_cell(', '.join(w.get('services') or []) or '—')} "
                f"| {md_cell(w.get('owner') or 'unknown')} | {md_cell(risk_text)} |"
            )
    else:
        lines.append("No Kubernetes workloads in the target.")
    services = merge_definitions(inventory.get("services", []))
    if services:
        lines += ["", "## Kubernetes Services", "", "| Service | Type | Ports | Selects |"]
        lines.append("|---|---|---|---|")
        for s in services:
            ports = ", ".join(
                f"{p.get('port')}→{p.get('targetPort', p.get('port'))}" for p in s["ports"]
            )
            lines.append(
                f"| {md_cell(s['resource'])} | {s['type']} | {md_cell(ports or '—')} "
                f"| {md_cell(', '.join(s['selects']) or _NOTHING_SELECTED)} |"
            )
    compose = inventory.get("compose_services", [])
    if compose:
        lines += ["", "## docker compose services", "", "| Service | File | Image | Ports |"]
        lines.append("|---|---|---|---|")
        for s in compose:
            lines.append(
                f"| {md_cell(s['name'])} | `{s['file']}` | {md_cell(s.get('image') or 'build')} "
                f"| {md_cell(', '.join(map(str, s.get('ports', []))) or '—')} |"
            )
    dockerfiles = inventory.get("dockerfiles", [])
    if dockerfiles:
        lines += ["", "## Dockerfiles", "", "| File | Base image | Stages | Exposes | User |"]
        lines.append("|---|---|---|---|---|")
        for d in dockerfiles:
            lines.append(
                f"| `{d['file']}` | {md_cell(d.get('base_image') or '—')} | {len(d['stages'])} "
                f"| {md_cell(', '.join(d['exposed_ports']) or '—')} "
                f"| {md_cell(d.get('user') or 'root (none set)')} |"
            )
    cloud = list(cloud)
    if cloud:
        lines += ["", "## Cloud resources (Terraform)", ""]
        lines += ["| Resource | What | Defined in | Open risks |", "|---|---|---|---|"]
        for c in cloud:
            mine = [f for f in by_resource.get(c["resource"], []) if f.file == c["file"]]
            risks = severity_counts(mine)
            risk_text = ", ".join(f"{n} {s}" for s, n in risks.items()) or "none found"
            lines.append(
                f"| {md_cell(c['resource'])} | {c['kind']} | `{c['file']}:{c['line']}` "
                f"| {md_cell(risk_text)} |"
            )
    counts = severity_counts(fs)
    lines += ["", "## Findings across the target", ""]
    lines.append(
        ", ".join(f"{n} {s}" for s, n in counts.items()) if counts else "No findings reported."
    )
    runbooks: dict[str, str] = {}
    for w in workloads:
        runbooks[service_key(w, duplicates)] = render_runbook(w, by_resource, usage)
    if not workloads:
        for s in compose:
            runbooks[s["name"]] = _compose_runbook(s)
    unowned = sum(1 for w in workloads if not w.get("owner"))
    summary = (
        f"Service catalogue of {len(workloads)} workload(s), {len(services)} Service(s), "
        f"{len(compose)} compose service(s), {len(cloud)} cloud resource(s); "
        f"{len(runbooks)} runbook(s); "
        f"{len(fs)} finding(s) linked"
        + (f"; {unowned} workload(s) have no owner set" if unowned else "")
        + "."
    )
    lines += ["", f"_{summary}_", ""]
    return {"catalogue_md": "\n".join(lines), "runbooks": runbooks, "summary": summary}
