"""Benchmark `llmgenie scan`: documents per second and peak memory at 1x and 2x tree size.

    .venv/bin/python bench/bench_scan.py [--docs 5000] [--dockerfiles 500] [--agents all]

Generates a tree of Kubernetes documents (Deployments, Services, HPAs, ConfigMaps, five to a
file, some with two containers and insecure settings) and Dockerfiles in a temporary folder,
scans it in a fresh subprocess (so peak RSS is the scan's own), and prints a table. The same
at twice the size shows whether memory stays flat.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

__all__ = ["generate_tree", "main"]

_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  namespace: team-{ns}
  labels: {{app: svc-{i}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: svc-{i}}}
  template:
    metadata:
      labels: {{app: svc-{i}}}
    spec:
      containers:
        - name: app
          image: registry.example.com:5000/team/svc-{i}:{tag}
          ports: [{{containerPort: 8080}}]
          securityContext:
            privileged: {privileged}
            allowPrivilegeEscalation: false
            runAsNonRoot: true
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{cpu: 500m, memory: 256Mi}}
          env:
            - name: DB_PASSWORD
              valueFrom: {{secretKeyRef: {{name: db-{i}, key: password}}}}
        - name: sidecar
          image: envoyproxy/envoy
"""
_SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  namespace: team-{ns}
spec:
  selector: {{app: svc-{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
_HPA = """\
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: svc-{i}
  namespace: team-{ns}
spec:
  scaleTargetRef: {{apiVersion: apps/v1, kind: Deployment, name: svc-{i}}}
  minReplicas: 2
  maxReplicas: 10
"""
_CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: svc-{i}-config
data:
  LOG_LEVEL: info
  FEATURE_FLAGS: "a,b,c"
"""
_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: debug-{i}
  namespace: default
spec:
  hostNetwork: {host}
  containers:
    - name: shell
      image: busybox:latest
      command: ["sleep", "3600"]
"""
_DOCKERFILE = """\
FROM python:3.12-slim AS build
RUN apt-get update && apt-get install -y gcc
COPY . /src
RUN pip install /src
FROM python:3.12-slim
COPY --from=build /usr/local /usr/local
{user}
EXPOSE 8080
CMD ["python", "-m", "svc{i}"]
"""


def generate_tree(root: Path, docs: int, dockerfiles: int) -> int:
    """Write `docs` Kubernetes documents (five per file) and `dockerfiles` Dockerfiles."""
    templates = (_DEPLOYMENT, _SERVICE, _HPA, _CONFIGMAP, _POD)
    written = 0
    i = 0
    while written < docs:
        folder = root / "deploy" / f"team-{i % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        parts = []
        for t in templates[: min(5, docs - written)]:
            parts.append(
                t.format(
                    i=i,
                    ns=i % 20,
                    replicas=1 + i % 3,
                    tag="latest" if i % 7 == 0 else f"1.{i}.0",
                    privileged=str(i % 11 == 0).lower(),
                    host=str(i % 2 == 0).lower(),
                )
            )
            written += 1
        (folder / f"svc-{i}.yaml").write_text("---\n".join(parts))
        i += 1
    for j in range(dockerfiles):
        folder = root / "services" / f"svc-{j}"
        folder.mkdir(parents=True, exist_ok=True)
        user = "USER 10001" if j % 2 else ""
        (folder / "Dockerfile").write_text(_DOCKERFILE.format(i=j, user=user))
    return written


def _finding_bytes(sample: list[Any]) -> float:
    """Average retained size of one finding (copies of real ones), measured with tracemalloc."""
    if not sample:
        return 0.0
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    copies = [f.model_copy(update={"evidence": f"{f.evidence}"}) for f in sample]
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(copies)


def _child(path: str, agents: str, stream: bool) -> None:
    start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from llmgenie.agents.tools import scan_detailed

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    streamed: list[int] = [0]

    def sink(_: Any) -> None:
        streamed[0] += 1

    result = scan_detailed(  # the `llmgenie scan` path: findings only
        path,
        None if agents == "all" else agents.split(","),
        sink=sink if stream else None,
        outputs=False,
    )
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    per_finding = _finding_bytes(result.scan.findings[:2000])
    print(
        json.dumps(
            {
                "wall": wall,
                "findings": len(result.scan.findings) + streamed[0],
                "files": result.scan.summary.files_scanned,
                "rss_start_kb": start_rss,
                "rss_after_import_kb": base_rss,
                "rss_peak_kb": peak,
                "findings_mb": per_finding * len(result.scan.findings) / 2**20,
            }
        )
    )


def _measure(docs: int, dockerfiles: int, agents: str) -> list[dict[str, Any]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="llmgenie-bench-") as tmp:
        n = generate_tree(Path(tmp), docs, dockerfiles)
        for mode in ("report", "stream"):
            cmd = [sys.executable, __file__, "--child", tmp, "--agents", agents]
            if mode == "stream":
                cmd.append("--stream")
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            row = json.loads(out.strip().splitlines()[-1])
            row.update(docs=n, dockerfiles=dockerfiles, mode=mode)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=5000)
    ap.add_argument("--dockerfiles", type=int, default=500)
    ap.add_argument(
        "--agents",
        default="all",
        help="comma-separated agents, or all (as `llmgenie scan` runs them)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--stream", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.agents, args.stream)
        return
    rows = [
        (k, row)
        for k in (1, 2)
        for row in _measure(args.docs * k, args.dockerfiles * k, args.agents)
    ]
    head = (
        f"{'size':>4} {'mode':>6} {'k8s docs':>9} {'Dockerfiles':>11} {'files':>6} {'findings':>9} "
        f"{'wall s':>7} {'docs/s':>8} {'RSS base MB':>11} {'RSS peak MB':>11} {'growth MB':>9} "
        f"{'findings MB':>11} {'growth-findings MB':>18}"
    )
    print(head)
    print("-" * len(head))
    for k, r in rows:
        growth = (r["rss_peak_kb"] - r["rss_after_import_kb"]) / 1024
        if r["mode"] == "stream":
            r["findings_mb"] = 0.0
        print(
            f"{k:>3}x {r['mode']:>6} {r['docs']:>9} {r['dockerfiles']:>11} {r['files']:>6} "
            f"{r['findings']:>9} "
            f"{r['wall']:>7.2f} {r['docs'] / r['wall']:>8.0f} "
            f"{r['rss_after_import_kb'] / 1024:>11.1f} {r['rss_peak_kb'] / 1024:>11.1f} "
            f"{growth:>9.1f} {r['findings_mb']:>11.1f} {growth - r['findings_mb']:>18.1f}"
        )
    print(
        f"\nagents: {args.agents}; python {sys.version.split()[0]}; peak RSS via ru_maxrss; "
        "'findings MB' is the result list itself (tracemalloc size of a finding x count), "
        "'growth-findings' what the scan holds beyond its output; mode 'report' keeps every "
        "finding for the report, 'stream' hands each to a sink as found (run_engine(sink=…))"
    )


if __name__ == "__main__":
    main()
