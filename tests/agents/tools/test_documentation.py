"""Service catalogue and runbooks from the inventory and the other agents' reports."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.tools.base import ToolsetInput
from llmgenie.agents.tools.devops.inventory import collect_inventory
from llmgenie.agents.tools.documentation.catalogue import OWNER_UNKNOWN, render_catalogue
from llmgenie.agents.tools.documentation.collectors import collect_documentation
from llmgenie.agents.tools.engine import run_engine
from llmgenie.agents.tools.scanning import build_scan
from llmgenie.core.context import analyze
from llmgenie.core.models import AgentReport, Finding, Severity, StepStatus

FIXTURE = Path(__file__).parents[2] / "fixtures" / "devops" / "inventory"

RISK = Finding(
    rule_id="LG-K8S-003",
    category="k8s.run-as-root",
    severity=Severity.high,
    agent="security",
    title="Container may run as root",
    message="…",
    file="k8s/db.yaml",
    line=15,
    resource="StatefulSet/shop/db",
    evidence='container "postgres": runAsNonRoot not set',
    remediation="set runAsNonRoot: true",
)


@pytest.fixture(scope="module")
def inventory() -> dict:
    context = analyze(str(FIXTURE))
    return collect_inventory(Path(context.root), context)


def _report(*findings: Finding) -> AgentReport:
    return AgentReport(
        id="security", agent="security", status=StepStatus.completed, findings=list(findings)
    )


def test_catalogue_lists_every_service(inventory: dict) -> None:
    out = render_catalogue(inventory, [_report(RISK)])
    md = out["catalogue_md"]
    for name in (
        "| api | Deployment | shop |",
        "| db | StatefulSet |",
        "| nightly-report | CronJob |",
    ):
        assert name in md
    assert "HPA 2 to 6" in md  # replicas come from the autoscaler
    assert "1 high" in md
    assert "**nothing** (selector matches no workload)" in md  # the orphan Service
    assert "| api | `docker-compose.yml` | build |" in md
    assert "gcr.io/distroless/static:nonroot" in md
    assert set(out["runbooks"]) == {"api", "db", "nightly-report"}
    assert "3 runbook(s)" in out["summary"] and "1 finding(s) linked" in out["summary"]


def test_runbooks_say_owner_deploy_watch_risks_rollback(inventory: dict) -> None:
    runbooks = render_catalogue(inventory, [_report(RISK)])["runbooks"]
    api, db, cron = runbooks["api"], runbooks["db"], runbooks["nightly-report"]
    assert "Owner: payments (team)." in api
    assert f"Owner: {OWNER_UNKNOWN}." in db
    assert "Owner: data-team@example.com (owner)." in cron
    assert "kubectl -n shop apply -f k8s/api.yaml" in api
    assert "kubectl -n shop rollout undo deployment/api" in api
    assert "kubectl -n shop rollout undo statefulset/db" in db and "restore from backup" in db
    assert "kubectl -n shop patch cronjob nightly-report" in cron
    assert 'kube_pod_container_status_restarts_total{namespace="shop", pod=~"api-.*"}' in api
    assert "readiness httpGet /ready:8080" in api
    assert "env `DB_PASSWORD`, `DB_HOST`" in api and "hunter2" not in api
    assert (
        '- **high** LG-K8S-003 Container may run as root — `k8s/db.yaml:15` — container "postgres"'
        in db
    )
    assert "No findings from the other agents for this workload." in api


def test_measured_usage_from_the_performance_report(inventory: dict) -> None:
    perf = AgentReport(
        id="performance",
        agent="performance",
        status=StepStatus.completed,
        output={
            "prometheus": {
                "usage": [
                    {
                        "resource": "Deployment/shop/api",
                        "container": "api",
                        "throttled_ratio": 0.4,
                        "memory_working_set_bytes": 200 * 2**20,
                        "memory_limit_bytes": 256 * 2**20,
                        "restarts_1h": 2.0,
                    }
                ]
            }
        },
    )
    api = render_catalogue(inventory, [perf])["runbooks"]["api"]
    assert "- `api`: restarts/1h 2, CPU throttled 40%, memory 200Mi of 256Mi" in api


def test_engine_run_links_security_findings_into_runbooks() -> None:
    context = analyze(str(FIXTURE))
    result = run_engine(Path(context.root), context, ["security", "devops", "documentation"])
    doc = result.per_agent["documentation"]
    api = doc.output["runbooks"]["api"]
    assert "## Known risks" in api
    assert "`k8s/api.yaml:" in api and "LG-K8S-" in api
    assert "inventory built by the documentation step" in " ".join(doc.notes)
    devops = result.per_agent["devops"]
    assert devops.output["inventory"]["counts"]["workloads"] == 3
    assert "k8s/api.yaml" in devops.output["patches"]


def test_collector_prefers_the_devops_inventory(inventory: dict) -> None:
    context = analyze(str(FIXTURE))
    trimmed = dict(inventory, workloads=inventory["workloads"][:1])
    devops = AgentReport(
        id="devops", agent="devops", status=StepStatus.completed, output={"inventory": trimmed}
    )
    inp = ToolsetInput(root=Path(context.root), context=context, prior_reports=[devops])
    out = collect_documentation(inp, build_scan(inp.root, context), [])
    assert set(out.output["runbooks"]) == {"api"}


def test_findings_only_runs_skip_the_structured_outputs() -> None:
    context = analyze(str(FIXTURE))
    result = run_engine(
        Path(context.root), context, ["devops", "documentation"], settings={"outputs": False}
    )
    assert result.per_agent["documentation"].output == {}
    assert result.per_agent["devops"].output == {}
    without_patches = run_engine(
        Path(context.root), context, ["devops"], settings={"patches": False}
    ).per_agent["devops"]
    assert "inventory" in without_patches.output and "patches" not in without_patches.output
