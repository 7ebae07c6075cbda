"""BOSS, the parent flow: analyse the target, plan a DAG, run the specialists, merge, store.

Independent steps run concurrently as child flow runs; a step starts as soon as the steps it
depends on are done; BOSS returns only when every child has finished.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

from prefect import Flow, flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as current_flow_run
from prefect.utilities.annotations import quote

from llmgenie.agents.planner import plan_task, plan_with_rules, plans_with_model
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
    Step,
    StepStatus,
    Task,
    TaskReport,
    TaskStatus,
    TokenUsage,
    severity_counts,
    utcnow,
)
from llmgenie.core.settings import Settings, get_settings
from llmgenie.core.storage import Store, open_store
from llmgenie.core.storage.knowledge import open_knowledge
from llmgenie.core.targets import OpenedTarget, classify_target, open_target
from llmgenie.flows import crashed, progress, sessions
from llmgenie.flows.dispatch import dispatch_step
from llmgenie.flows.logs import install_run_logs, log_skipped
from llmgenie.flows.metrics import observe_step, observe_task
from llmgenie.flows.publish import apublish_task_files, apublish_task_report
from llmgenie.flows.sessions import TaskSession
from llmgenie.flows.specialist import SpecialistRequest
from llmgenie.flows.threads import run_blocking

__all__ = [
    "StepRunner",
    "boss_flow",
    "in_process_boss",
    "merge_reports",
    "run_plan",
    "settle_speculation",
    "start_speculatively",
]

log = get_logger(__name__)
install_run_logs()

StepRunner = Callable[[SpecialistRequest], Awaitable[AgentReport]]


@task(name="analyse target", cache_policy=NO_CACHE, persist_result=False)
async def analyse_stage(opened: OpenedTarget) -> Context:
    context = await run_blocking(analyze_opened, opened)
    log.info(
        "target analysed",
        target=context.target.location,
        files=len(context.files),
        kinds=context.count_by_kind(),
        languages=context.languages,
        skipped=len(context.skipped),
        truncated=context.truncated,
    )
    log_skipped(log, context.skipped)
    return context


@task(name="plan", cache_policy=NO_CACHE, persist_result=False)
async def plan_stage(task_: Task, context: Context, rules: Plan) -> Plan:
    """The final plan: the model's when it plans and its plan is valid, else `rules`."""
    plan = await run_blocking(
        plan_task,
        task_.text,
        context,
        load_specs(),
        caller=task_.caller,
        agents=task_.agents,
        model_chain=get_settings().model_chain,
        rules=rules,
        task_id=task_.id,
    )
    return plan


async def run_plan(
    plan: Plan,
    make_request: Callable[[str, list[AgentReport]], SpecialistRequest],
    run_step: StepRunner,
    started: Mapping[str, Awaitable[AgentReport]] | None = None,
) -> list[AgentReport]:
    """Run the DAG: each step as soon as its dependencies are done; wait for every step.

    `started` holds steps already running (speculative starts the plan keeps): awaited, not run.
    """
    done = {s.id: asyncio.Event() for s in plan.steps}
    reports: dict[str, AgentReport] = {}
    started = started or {}

    async def one(step_id: str, depends_on: list[str]) -> None:
        try:
            if step_id in started:
                reports[step_id] = await started[step_id]
                progress.notify(step_id, "finished", reports[step_id])
                return
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


def _speculates(settings: Settings, task_: Task) -> bool:
    """Start steps before the model's plan arrives: only when a model plans, in process."""
    return (
        settings.speculative_start
        and settings.dispatch == "inprocess"
        and plans_with_model(settings.model_chain, task_.agents)
    )


def start_speculatively(
    rules: Plan,
    request_for: Callable[[Step, list[AgentReport]], SpecialistRequest],
    run_step: StepRunner,
) -> dict[str, asyncio.Task[AgentReport]]:
    """Start the rule-based plan's independent steps while the model plans.

    The planner's model call and the specialists' work then overlap instead of adding up. The
    final plan decides which of them stay (`settle_speculation`). See
    docs/decisions/0013-speculative-start.md.
    """
    early = {}
    for step in rules.steps:
        if not step.depends_on:
            progress.notify(step.id, "started")
            request = request_for(step, []).model_copy(update={"speculative": True})
            early[step.id] = asyncio.create_task(run_step(request))
    return early


def settle_speculation(
    plan: Plan,
    rules: Plan,
    early: Mapping[str, asyncio.Task[AgentReport]],
    session: TaskSession,
) -> tuple[Plan, dict[str, asyncio.Task[AgentReport]]]:
    """Keep each early step the final plan runs the same way; drop the others.

    The same way: same id and agent, no dependencies, the same capabilities. A kept step keeps
    the goal it started with, and the plan records it. A dropped step is told to stop (it ends
    Cancelled in the UI, before its next model call) and is left out of the report.
    """
    if not early:
        return plan, {}
    started = {s.id: s for s in rules.steps if s.id in early}
    kept: dict[str, asyncio.Task[AgentReport]] = {}
    steps: list[Step] = []
    for step in plan.steps:
        first = started.get(step.id)
        if (
            first is not None
            and first.agent == step.agent
            and not step.depends_on
            and set(first.capabilities) == set(step.capabilities)
        ):
            kept[step.id] = early[step.id]
            steps.append(first)
        else:
            steps.append(step)
    dropped = [step_id for step_id in early if step_id not in kept]
    for step_id in dropped:
        session.drop_signal(step_id).set()
        progress.notify(step_id, "dropped")
    notes = list(plan.notes)
    if plan.planner != rules.planner and kept:
        notes.append(
            f"started before the model's plan and kept: {', '.join(sorted(kept))} "
            "(with the rule-based goal)"
        )
    if dropped:
        notes.append(f"started before the model's plan and dropped: {', '.join(sorted(dropped))}")
    return plan.model_copy(update={"steps": steps, "notes": notes}), kept


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
    store = _store()
    try:
        return await _run_task(task_, target, settings, store, flow_run_id)
    except BaseException as exc:
        # a task that ends without a report must not stay "running" (and heartbeating) for as
        # long as this process lives: the REST API's process lives long
        ended = TaskStatus.interrupted if _is_interruption(exc) else TaskStatus.failed
        telemetry.record_task_ended(ended)
        try:
            await run_blocking(store.task_ended, task_.id, ended, _one_line(exc))
        except Exception as problem:  # the database may be what failed
            log.warning("task end not recorded", error=str(problem)[:200])
        raise


@functools.cache
def in_process_boss() -> Flow[..., Coroutine[Any, Any, TaskReport]]:
    """BOSS for callers that take its report in memory: the CLI and the REST API.

    Its result is not also written to Prefect's result storage: the store keeps the report, and
    a second copy per run (megabytes on a big repository) would only grow LLMGENIE_HOME. Runs of
    the deployment (schedules, the UI, API triggers) persist it, for whoever reads the result.
    """
    return boss_flow.with_options(persist_result=False)


def _is_interruption(exc: BaseException) -> bool:
    return isinstance(exc, asyncio.CancelledError | KeyboardInterrupt)


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


@observe_task
async def _run_task(
    task_: Task, target: str, settings: Settings, store: Store, flow_run_id: str | None
) -> TaskReport:
    started = utcnow()
    progress.current_task.set(task_.id)  # the steps' events name their task
    # recorded before it plans, which can take a model's while: listed as running meanwhile,
    # and a task that fails or is interrupted while it plans is recorded as such
    await run_blocking(store.task_started, task_, flow_run_id)
    with open_target(target, settings) as opened:
        context = await analyse_stage(quote(opened))
        rules = plan_with_rules(
            task_.text,
            context,
            load_specs(),
            agents=task_.agents,
            prometheus_configured=bool(settings.prometheus_url),
        )
        session = sessions.register(task_.id, TaskSession(root=opened.root, context=context))
        documents = any(s.agent == "documentation" for s in rules.steps)
        if documents and settings.dispatch == "inprocess":
            # ChromaDB's import and open (~0.5 s) overlap the other steps, not Documentation's
            session.publishing.append(
                asyncio.ensure_future(run_blocking(open_knowledge(settings).warm_up))
            )

        def request_for(step: Step, prior: list[AgentReport]) -> SpecialistRequest:
            return SpecialistRequest(
                task_id=task_.id,
                task=task_.text,
                target=target,
                step=step,
                caller=task_.caller,
                # by reference: a step reads its prior reports from the session or the store
                prior_steps=[r.id for r in prior],
                tokens_left=settings.token_budget,
            )

        @observe_step
        async def run_step(request: SpecialistRequest) -> AgentReport:
            report = await dispatch_step(request, settings)
            session.reports[report.id] = report  # what in-process dependents read
            return report

        early: dict[str, asyncio.Task[AgentReport]] = {}
        try:
            if _speculates(settings, task_):
                early = start_speculatively(rules, request_for, run_step)
            plan = await plan_stage(quote(task_), quote(context), quote(rules))
            plan, kept = settle_speculation(plan, rules, early, session)
            log.info(
                "plan decided",
                planner=plan.planner,
                steps=[f"{s.id}({s.agent})" for s in plan.steps],
                notes=plan.notes,
            )
            # database writes, off the loop the early steps are running on
            await run_blocking(
                audit.record,
                "plan.decided",
                actor="boss",
                task_id=task_.id,
                planner=plan.planner,
                steps=[s.model_dump(mode="json") for s in plan.steps],
                notes=plan.notes,
            )
            await run_blocking(store.task_planned, task_.id, plan)
            steps = await run_plan(
                plan,
                lambda step_id, prior: request_for(
                    next(s for s in plan.steps if s.id == step_id), prior
                ),
                run_step,
                started=kept,
            )
        except BaseException as exc:
            for step_id, step in early.items():  # nothing will use them now
                session.drop_signal(step_id).set()
                if _is_interruption(exc):  # interrupted: do not wait for them
                    step.cancel()
            raise
        finally:
            # BOSS never finishes while a child runs, dropped and failed ones included
            await asyncio.gather(*early.values(), return_exceptions=True)
            sessions.drop(task_.id)
            await asyncio.gather(*session.publishing)
    report = merge_reports(task_, plan, steps, context).model_copy(
        update={"flow_run_id": flow_run_id, "started_at": started, "finished_at": utcnow()}
    )
    # the report's Prefect artifacts list no stored file: they are written while the files are
    report, _ = await asyncio.gather(
        run_blocking(store.task_finished, report), _publish(apublish_task_report, report)
    )
    telemetry.record_task(report)
    await asyncio.gather(run_blocking(telemetry.push), _publish(apublish_task_files, report))
    log.info("task finished", status=report.status.value, findings=len(report.findings))
    return report


def _store() -> Store:
    crashed.watch()
    return open_store(get_settings())


async def _publish(publish: Callable[[TaskReport], Awaitable[None]], report: TaskReport) -> None:
    try:
        await publish(report)
    except Exception as exc:  # the UI artifacts are a view; the stored report is the record
        log.warning("prefect artifacts not published", error=str(exc)[:200])
