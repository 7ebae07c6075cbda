"""Domain types ↔ rows: the one place that knows how a Task and a TaskReport are stored."""

from __future__ import annotations

from typing import Any

from llmgenie.core.models import (
    AgentReport,
    ArtifactRef,
    Attempt,
    Caller,
    Finding,
    Plan,
    ReportSummary,
    SkippedFile,
    Task,
    TaskReport,
    TokenUsage,
)
from llmgenie.core.storage.backends import TASK_STEP
from llmgenie.core.storage.tables import ArtifactRow, AttemptRow, FindingRow, StepRow, TaskRow

__all__ = [
    "apply_report",
    "artifact_ref",
    "finding_from_row",
    "finding_row",
    "report_from_rows",
    "report_rows",
    "task_row",
]


def task_row(task: Task) -> TaskRow:
    return TaskRow(
        id=task.id,
        text=task.text,
        target=task.target.location,
        target_kind=task.target.kind.value,
        status="running",
        caller_name=task.caller.name,
        caller_role=task.caller.role.value,
        agents=task.agents,
        created_at=task.created_at,
        finding_count=0,
        tokens_prompt=0,
        tokens_completion=0,
        pending_uploads=0,
    )


def apply_report(row: TaskRow, report: TaskReport) -> None:
    """Copy a finished report's task-level fields onto its row."""
    row.text = report.task
    row.target = report.target
    row.status = report.status.value
    row.caller_name = report.caller.name
    row.caller_role = report.caller.role.value
    row.plan = report.plan.model_dump(mode="json")
    row.flow_run_id = report.flow_run_id
    row.started_at = report.started_at or row.started_at
    row.finished_at = report.finished_at
    row.summary = report.summary.model_dump(mode="json")
    row.finding_count = len(report.findings)
    row.tokens_prompt = report.tokens.prompt
    row.tokens_completion = report.tokens.completion
    row.notes = list(report.notes)
    row.skipped = [s.model_dump(mode="json") for s in report.skipped]
    row.pending_uploads = sum(1 for a in report.artifacts if a.pending_upload)


def finding_row(task_id: str, step_id: str | None, position: int, f: Finding) -> dict[str, Any]:
    """A findings row as a plain dict (bulk inserts take dicts: 10,000 findings stay fast)."""
    return {
        "task_id": task_id,
        "step_id": step_id,
        "position": position,
        "finding_id": f.id,
        "rule_id": f.rule_id,
        "category": f.category,
        "severity": f.severity.value,
        "agent": f.agent,
        "title": f.title,
        "message": f.message,
        "file": f.file,
        "line": f.line,
        "resource": f.resource,
        "evidence": f.evidence,
        "remediation": f.remediation,
        "references": list(f.references),
    }


def finding_from_row(row: Any) -> Finding:
    return Finding(
        id=row.finding_id,
        rule_id=row.rule_id,
        category=row.category,
        severity=row.severity,
        agent=row.agent,
        title=row.title,
        message=row.message,
        file=row.file,
        line=row.line,
        resource=row.resource,
        evidence=row.evidence,
        remediation=row.remediation,
        references=list(row.references or []),
    )


def report_rows(
    report: TaskReport,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows for the report's steps, attempts and findings (task-level ones have step_id NULL)."""
    steps: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    findings = [finding_row(report.task_id, None, i, f) for i, f in enumerate(report.findings)]
    for pos, step in enumerate(report.steps):
        steps.append(
            {
                "task_id": report.task_id,
                "id": step.id,
                "position": pos,
                "agent": step.agent,
                "status": step.status.value,
                "mode": step.mode.value,
                "model": step.model,
                "flow_run_id": step.flow_run_id,
                "started_at": step.started_at,
                "finished_at": step.finished_at,
                "summary": step.summary,
                "error": step.error,
                "missing_capabilities": [c.value for c in step.missing_capabilities],
                "output": _jsonable(step.output),
                "notes": list(step.notes),
            }
        )
        for apos, att in enumerate(step.attempts):
            attempts.append(
                {
                    "task_id": report.task_id,
                    "step_id": step.id,
                    "position": apos,
                    "executor": att.executor,
                    "outcome": att.outcome.value,
                    "error": att.error,
                    "error_class": att.error_class,
                    "started_at": att.started_at,
                    "finished_at": att.finished_at,
                    "tokens_prompt": att.tokens.prompt,
                    "tokens_completion": att.tokens.completion,
                }
            )
        findings.extend(
            finding_row(report.task_id, step.id, i, f) for i, f in enumerate(step.findings)
        )
    return steps, attempts, findings


def artifact_ref(row: ArtifactRow) -> ArtifactRef:
    return ArtifactRef(
        name=row.name,
        url=row.url,
        sha256=row.sha256,
        size=row.size,
        content_type=row.content_type,
        step_id=None if row.step_key == TASK_STEP else row.step_key,
        pending_upload=row.pending_upload,
    )


def report_from_rows(
    task: TaskRow,
    steps: list[StepRow],
    attempts: list[AttemptRow],
    findings: list[FindingRow],
    artifacts: list[ArtifactRow],
) -> TaskReport:
    by_step_attempts: dict[str, list[AttemptRow]] = {}
    for a in sorted(attempts, key=lambda a: a.position):
        by_step_attempts.setdefault(a.step_id, []).append(a)
    by_step_findings: dict[str | None, list[FindingRow]] = {}
    for f in sorted(findings, key=lambda f: f.position):
        by_step_findings.setdefault(f.step_id, []).append(f)
    agent_reports = [
        AgentReport(
            id=s.id,
            agent=s.agent,
            status=s.status,
            mode=s.mode,
            model=s.model,
            flow_run_id=s.flow_run_id,
            attempts=[
                Attempt(
                    executor=a.executor,
                    outcome=a.outcome,
                    error=a.error,
                    error_class=a.error_class,
                    started_at=a.started_at,
                    finished_at=a.finished_at,
                    tokens=TokenUsage(prompt=a.tokens_prompt, completion=a.tokens_completion),
                )
                for a in by_step_attempts.get(s.id, [])
            ],
            started_at=s.started_at,
            finished_at=s.finished_at,
            summary=s.summary,
            findings=[finding_from_row(f) for f in by_step_findings.get(s.id, [])],
            error=s.error,
            missing_capabilities=list(s.missing_capabilities or []),
            output=dict(s.output or {}),
            notes=list(s.notes or []),
        )
        for s in sorted(steps, key=lambda s: s.position)
    ]
    return TaskReport(
        task_id=task.id,
        task=task.text,
        target=task.target,
        status=task.status,
        plan=Plan.model_validate(task.plan) if task.plan else Plan(steps=[]),
        steps=agent_reports,
        findings=[finding_from_row(f) for f in by_step_findings.get(None, [])],
        summary=ReportSummary.model_validate(task.summary or {}),
        artifacts=[artifact_ref(a) for a in sorted(artifacts, key=lambda a: a.pk)],
        caller=Caller(name=task.caller_name, role=task.caller_role),
        flow_run_id=task.flow_run_id,
        started_at=task.started_at,
        finished_at=task.finished_at,
        tokens=TokenUsage(prompt=task.tokens_prompt, completion=task.tokens_completion),
        skipped=[SkippedFile.model_validate(s) for s in task.skipped or []],
        notes=list(task.notes or []),
    )


def _jsonable(value: Any) -> Any:
    """Tool output as JSON-safe data (paths, datetimes, sets become strings/lists)."""
    import json

    return json.loads(json.dumps(value, default=_json_default))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    return str(obj)
