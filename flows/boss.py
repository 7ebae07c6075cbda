"""BOSS, the parent flow: analyse the target, plan a DAG, run the specialists, merge, store.

Independent steps run concurrently as child flow runs; a step starts as soon as the steps it
depends on are done; BOSS returns only when every child has finished.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as current_flow_run

from llmgenie.agents.planner import plan_task
from llmgenie.agents.runner import dedupe_findings
from llmgenie.agents.specs import load_specs
from llmgenie.core import audit, telemetry
from llmgenie.core.context import analyze_opened
from llmgenie.core.logging import bind_run, get_logger
from llmgenie.core.models import (
    AgentReport,
    Caller,
    Context,
    Plan,
    ReportSummary,
    Role,
    StepStatus,
    Task,
    TaskReport,
    TaskStatus,
    TokenUsage,
    severity_counts,
    utcnow,
)
from llmgenie.core.settings import get_settings
from llmgenie.core.storage import Store, open_store
from llmgenie.core.targets import OpenedTarget, classify_target, open_target
from llmgenie.flows import progress
from llmgenie.flows.dispatch import dispatch_step
from llmgenie.flows.specialist import _SESSIONS, SpecialistRequest, TaskSession
from llmgenie.flows.threads import run_blocking

__all__ = ["StepRunner", "boss_flow", "merge_reports", "run_plan"]

log = get_logger(__name__)

StepRunner = Callable[[SpecialistRequest], Awaitable[AgentReport]]


@task(name="analyse target", cache_policy=NO_CACHE, persist_result=False)
async def analyse_stage(opened: OpenedTarget) -> Context:
    return await run_blocking(analyze_opened, opened)


@task(name="plan", cache_policy=NO_CACHE, persist_result=False)
async def plan_stage(task_: Task, context: Context) -> Plan:
    settings = get_settings()
    plan = await run_blocking(
        plan_task,
        task_.text,
        context,
        load_specs(),
        caller=task_.caller,
        agents=task_.agents,
        model_chain=settings.model_chain,
        prometheus_configured=bool(settings.prometheus_url),
    )
    audit.record(
        "plan.decided",
        actor="boss",
        task_id=task_.id,
        planner=plan.planner,
        steps=[s.model_dump(mode="json") for s in plan.steps],
        notes=plan.notes,
    )
    return plan


async def run_plan(
    plan: Plan,
    make_request: Callable[[str, list[AgentReport]], SpecialistRequest],
    run_step: StepRunner,
) -> list[AgentReport]:
    """Run the DAG: each step as soon as its dependencies are done; wait for every step."""
    done = {s.id: asyncio.Event() for s in plan.steps}
    reports: dict[str, AgentReport] = {}

    async def one(step_id: str, depends_on: list[str]) -> None:
        try:
            for dep in depends_on:
                await done[dep].wait()
            prior = [reports[d] for d in depends_on if reports[d].status is StepStatus.completed]
            progress.notify(step_id, "started")
            reports[step_id] = await run_step(make_request(step_id, prior))
            progress.notify(step_id, "finished", reports[step_id])
        finally:
            done[step_id].set()

    await asyncio.gather(*(one(s.id, s.depends_on) for s in plan.steps))
    return [reports[s.id] for s in plan.steps]


def merge_reports(
    task_: Task, plan: Plan, steps: list[AgentReport], context: Context
) -> TaskReport:
    findings = dedupe_findings(f for s in steps for f in s.findings)
    failed = [s for s in steps if s.status in (StepStatus.failed, StepStatus.denied)]
    if steps and len(failed) == len(steps):
        status = TaskStatus.failed
    elif failed:
        status = TaskStatus.completed_with_errors
    else:
        status = TaskStatus.completed
    notes = [f"step {s.id} {s.status.value}: {s.error}" for s in failed]
    if context.truncated:
        notes.append("the target was larger than the analysis bounds; the rest was not looked at")
    return TaskReport(
        task_id=task_.id,
        task=task_.text,
        target=task_.target.location,
        status=status,
        plan=plan,
        steps=steps,
        findings=findings,
        summary=ReportSummary(
            by_severity=severity_counts(findings), by_agent=dict(Counter(f.agent for f in findings))
        ),
        caller=task_.caller,
        tokens=sum((a.tokens for s in steps for a in s.attempts), TokenUsage()),
        skipped=context.skipped,
        notes=[*plan.notes, *notes],
    )


def _boss_run_name() -> str:
    params = current_flow_run.parameters
    return f"boss: {str(params.get('task', ''))[:40]} · {params.get('target', '')}"


@flow(name="boss", flow_run_name=_boss_run_name, persist_result=True, result_serializer="json")
async def boss_flow(
    task: str,
    target: str,
    agents: list[str] | None = None,
    role: Role = Role.operator,
    caller: str = "prefect",
    task_id: str | None = None,
) -> TaskReport:
    """Plan a task over a target and run the specialists it needs.

    Args:
        task: what to do, in plain words, e.g. "audit the manifests in ./deploy".
        target: a folder, a file, a .tar.gz/.zip archive or an s3://bucket/prefix.
        agents: run only these specialists (devops, security, performance, documentation).
        role: the caller's role; it grants the capabilities steps may use.
        caller: who asked: a user, a schedule, a CI job or an alert.
        task_id: an id chosen by the caller; generated when empty.
    """
    settings = get_settings()
    task_ = Task(
        text=task,
        target=classify_target(target),
        agents=agents or None,
        caller=Caller(name=caller, role=role),
        **({"id": task_id} if task_id else {}),
    )
    flow_run_id = str(current_flow_run.id) if current_flow_run.id else None
    bind_run(task_id=task_.id, flow_run_id=flow_run_id)
    started = utcnow()
    store = _store()
    with open_target(target, settings) as opened:
        context = await analyse_stage(opened)
        plan = await plan_stage(task_, context)
        store.task_started(task_, plan)
        session = _SESSIONS[task_.id] = TaskSession(root=opened.root, context=context)
        try:
            steps = await run_plan(
                plan,
                lambda step_id, prior: SpecialistRequest(
                    task_id=task_.id,
                    task=task_.text,
                    target=target,
                    step=next(s for s in plan.steps if s.id == step_id),
                    caller=task_.caller,
                    prior_reports=prior,
                    tokens_left=settings.token_budget,
                ),
                lambda request: dispatch_step(request, settings),
            )
        finally:
            _SESSIONS.pop(task_.id, None)
            await asyncio.gather(*session.publishing)
    report = merge_reports(task_, plan, steps, context).model_copy(
        update={"flow_run_id": flow_run_id, "started_at": started, "finished_at": utcnow()}
    )
    report = store.task_finished(report)
    telemetry.record_task(report)
    await run_blocking(telemetry.push)
    await _publish(report)
    log.info("task finished", status=report.status.value, findings=len(report.findings))
    return report


def _store() -> Store:
    return open_store(get_settings())


async def _publish(report: TaskReport) -> None:
    from llmgenie.flows.publish import apublish_task_artifacts

    try:
        await apublish_task_artifacts(report)
    except Exception as exc:  # the UI artifacts are a view; the stored report is the record
        log.warning("prefect artifacts not published", error=str(exc)[:200])
