"""The catalogue on real installs: one row per workload however many variants define it."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.devops.inventory import collect_inventory
from llmgenie.agents.tools.documentation.catalogue import render_catalogue
from llmgenie.agents.tools.scanning import clear_scan_cache
from llmgenie.core.context import analyze
from llmgenie.core.models import AgentReport, Finding, Severity, StepStatus

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: prod}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - {name: web, image: "nginx:1.25"}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: prod}
spec:
  selector: {app: web}
  ports: [{port: 80}]
"""


def _risk(file: str) -> Finding:
    return Finding(
        rule_id="LG-K8S-003",
        category="k8s.run-as-root",
        severity=Severity.high,
        agent="security",
        title="Container may run as root",
        message="…",
        file=file,
        line=9,
        resource="Deployment/prod/web",
        evidence='container "web": runAsNonRoot not set',
    )


def test_variants_of_a_workload_are_one_row_one_runbook_one_risk_line(tmp_path: Path) -> None:
    variants = ["variants/dev/web.yaml", "variants/staging/web.yaml", "variants/prod/web.yaml"]
    for rel in variants:
        (tmp_path / rel).parent.mkdir(parents=True)
        (tmp_path / rel).write_text(WEB)
    clear_scan_cache()
    context = analyze(str(tmp_path))
    inventory = collect_inventory(Path(context.root), context)
    assert len(inventory["workloads"]) == 3  # the inventory keeps every definition

    report = AgentReport(
        id="security",
        agent="security",
        status=StepStatus.completed,
        findings=[_risk(rel) for rel in variants],
    )
    out = render_catalogue(inventory, [report])
    md = out["catalogue_md"]
    rows = [ln for ln in md.splitlines() if ln.startswith("| web |")]
    assert rows == [
        "| web | Deployment | prod | nginx:1.25 | 1 | Service/prod/web | unknown | 1 high |"
    ]
    assert sum(ln.startswith("| Service/prod/web |") for ln in md.splitlines()) == 1
    assert "| Service/prod/web | ClusterIP | 80→80 | Deployment/prod/web |" in md
    assert set(out["runbooks"]) == {"web"}
    runbook = out["runbooks"]["web"]
    assert "defined in 3 places (variants): `variants/dev/web.yaml:1`" in runbook
    risk_lines = [ln for ln in runbook.splitlines() if "LG-K8S-003" in ln]
    assert len(risk_lines) == 1
    assert all(f"`{rel}:9`" in risk_lines[0] for rel in variants)
    assert "1 workload(s), 1 Service(s)" in out["summary"]
