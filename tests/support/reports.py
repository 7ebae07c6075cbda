"""Builders for realistic Task / TaskReport values (steps, attempts, findings, tool output)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from llmgenie.core.models import (
    AgentReport,
    Attempt,
    AttemptOutcome,
    Finding,
    Mode,
    Plan,
    ReportSummary,
    Severity,
    Step,
    StepStatus,
    Target,
    TargetKind,
    Task,
    TaskReport,
    TaskStatus,
    TokenUsage,
    utcnow,
)

if TYPE_CHECKING:
    from llmgenie.core.storage import Store

__all__ = ["finished_long_ago", "make_finding", "make_report", "make_task"]

_SEVERITIES = list(Severity)


def make_finding(i: int = 0, *, agent: str = "security", rule: str = "LG-K8S-001") -> Finding:
    return Finding(
        rule_id=rule,
        category="k8s.privileged",
        severity=_SEVERITIES[i % len(_SEVERITIES)],
        agent=agent,
        title="Container runs privileged",
        message=f"container app-{i} sets securityContext.privileged: true",
        file=f"deploy/app-{i % 50}.yaml",
        line=10 + i % 100,
        resource=f"Deployment/shop/app-{i}",
        evidence=f"containers[app-{i}].securityContext.privileged: true",
        remediation="set securityContext.privileged to false",
        references=["CIS Kubernetes 5.2.1", "CKV_K8S_16"],
    )


def make_task(target: str = "examples/shop", text: str = "audit the manifests") -> Task:
    return Task(text=text, target=Target(location=target, kind=TargetKind.folder))


def make_report(
    task: Task | None = None,
    *,
    findings: list[Finding] | None = None,
    n_findings: int = 3,
    status: TaskStatus = TaskStatus.completed,
    patches: bool = True,
) -> TaskReport:
    """A two-step report (security with a failed model attempt then tool-only, devops)."""
    task = task or make_task()
    now = utcnow()
    found = findings if findings is not None else [make_finding(i) for i in range(n_findings)]
    plan = Plan(
        steps=[
            Step(id="security", agent="security"),
            Step(id="devops", agent="devops", depends_on=["security"]),
        ],
        notes=["manifests found: security and devops"],
    )
    security = AgentReport(
        id="security",
        agent="security",
        status=StepStatus.completed,
        mode=Mode.tool_only,
        flow_run_id="1b2c3d4e-0000-4000-8000-000000000001",
        attempts=[
            Attempt(
                executor="openai/gpt-4o-mini",
                outcome=AttemptOutcome.failed,
                error="HTTP 500",
                error_class="server_error",
                started_at=now - timedelta(seconds=3),
                finished_at=now - timedelta(seconds=2),
                tokens=TokenUsage(prompt=120, completion=0),
            ),
            Attempt(
                executor="tool-only",
                outcome=AttemptOutcome.succeeded,
                started_at=now - timedelta(seconds=2),
                finished_at=now - timedelta(seconds=1),
            ),
        ],
        started_at=now - timedelta(seconds=3),
        finished_at=now - timedelta(seconds=1),
        summary="privileged containers found",
        findings=found,
        output={"checked": {"files": 12}, "rules": ["LG-K8S-001"]},
        notes=["model openai/gpt-4o-mini failed; tool-only report"],
    )
    devops_output: dict[str, object] = {"inventory": {"images": ["nginx:1.27"]}}
    if patches:
        devops_output["patches"] = [
            {
                "file": "deploy/app-0.yaml",
                "diff": "--- a/deploy/app-0.yaml\n+++ b/deploy/app-0.yaml\n",
            }
        ]
    devops = AgentReport(
        id="devops",
        agent="devops",
        status=StepStatus.completed,
        started_at=now - timedelta(seconds=1),
        finished_at=now,
        output=devops_output,
    )
    by_sev: dict[str, int] = {}
    for f in found:
        by_sev[f.severity.value] = by_sev.get(f.severity.value, 0) + 1
    return TaskReport(
        task_id=task.id,
        task=task.text,
        target=task.target.location,
        status=status,
        plan=plan,
        steps=[security, devops],
        findings=found,
        summary=ReportSummary(by_severity=by_sev, by_agent={"security": len(found)}),
        caller=task.caller,
        flow_run_id="1b2c3d4e-0000-4000-8000-000000000000",
        started_at=now - timedelta(seconds=4),
        finished_at=now,
        tokens=TokenUsage(prompt=120),
        notes=["one model attempt failed"],
    )


def finished_long_ago(store: Store, days_ago: float) -> Task:
    """A task stored with its report and files that finished `days_ago` days ago."""
    from sqlalchemy import update

    from llmgenie.core.storage.tables import TaskRow

    task = make_task()
    store.task_started(task)
    store.task_finished(make_report(task))
    ended = utcnow() - timedelta(days=days_ago)
    store._tx(
        lambda s: s.execute(
            update(TaskRow)
            .where(TaskRow.id == task.id)
            .values(created_at=ended, started_at=ended, heartbeat_at=ended, finished_at=ended)
        )
    )
    return task
