"""The specialist subflow: one step of the plan, the four wrapper stages as visible tasks.

1 context slice → 2 permission check → 3 environment setup → 4 execute with fallback: the
toolset, then each model in the chain (transient faults retried with exponential backoff and
jitter), tool-only last. Every attempt is recorded on the step's report. Attempts are not task
runs of their own: a Prefect task costs ~20-35 ms here, and the step's report lists them.
Stage arguments are `quote`d: they never hold futures, and Prefect would otherwise walk every
field of them (the context, prior reports' findings) on each call.

Reports cross flow runs by reference, never as Prefect parameters or results: the request names
the steps this one depends on (`prior_steps`), and their reports are read from BOSS's session in
process, else from the artifact store (each step's `output.json`), where a specialist on a work
pool leaves its own report for BOSS. A BOSS pod and its specialist pods share no filesystem
(docs/decisions/0026-kubernetes-work-pool.md).
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from contextlib import ExitStack

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run as current_flow_run
from prefect.states import Cancelled, State
from prefect.utilities.annotations import quote
from pydantic import BaseModel, Field

from llmgenie.agents.executors import (
    ExecutionRequest,
    ExecutionResult,
    Executor,
    ExecutorError,
    build_chain,
)
from llmgenie.agents.knowledge import passages_for
from llmgenie.agents.runner import dedupe_findings, run_toolset, slice_context
from llmgenie.agents.specs import AgentSpec, load_specs
from llmgenie.agents.tools.base import ToolsetResult
from llmgenie.core import audit
from llmgenie.core.context import analyze_opened
from llmgenie.core.logging import bind_run, get_logger
from llmgenie.core.models import (
    AgentReport,
    Attempt,
    AttemptOutcome,
    Caller,
    Capability,
    Mode,
    PassageKind,
    Step,
    StepStatus,
    utcnow,
)
from llmgenie.core.permissions import granted, missing_capabilities
from llmgenie.core.redact import redact_model
from llmgenie.core.settings import get_settings
from llmgenie.core.storage import open_store
from llmgenie.core.storage.artifacts import STEP_REPORT_FILE, step_report_file
from llmgenie.core.storage.knowledge import KnowledgeUnavailable, open_knowledge
from llmgenie.core.targets import open_target
from llmgenie.flows import sessions
from llmgenie.flows.logs import install_run_logs, log_skipped
from llmgenie.flows.metrics import observe_attempt, observe_stage, observe_tools
from llmgenie.flows.publish import apublish_step_artifacts
from llmgenie.flows.sessions import TaskSession
from llmgenie.flows.threads import run_blocking

__all__ = [
    "SpecialistRequest",
    "StepDropped",
    "hand_in",
    "read_prior_reports",
    "specialist_flow",
]

log = get_logger(__name__)
install_run_logs()


class SpecialistRequest(BaseModel):
    """Everything one specialist step needs; JSON-serialisable so a worker elsewhere can run it."""

    task_id: str = Field(description="the BOSS task this step belongs to")
    task: str = Field(description="the task text, in the caller's words")
    target: str = Field(description="folder, file, archive or s3:// prefix")
    step: Step = Field(description="the plan step to run")
    caller: Caller = Field(default_factory=Caller)
    prior_steps: list[str] = Field(
        default_factory=list,
        description="ids of the completed steps this one depends on: their reports are read "
        "from the task's session in process, else from the artifact store (never passed here)",
    )
    tokens_left: int | None = Field(None, description="what is left of the task's token budget")
    speculative: bool = Field(
        False, description="started before the final plan, which may drop it (in process only)"
    )


def read_prior_reports(request: SpecialistRequest) -> list[AgentReport]:
    """The reports of the steps `request` depends on, in its order: from BOSS's session when BOSS
    runs in this process, else from the artifact store (each step's `output.json`)."""
    session = sessions.get(request.task_id)
    kept = session.reports if session is not None else {}
    reports = []
    for step_id in request.prior_steps:
        if step_id in kept:
            reports.append(kept[step_id])
            continue
        try:
            data = open_store(get_settings()).read_artifact(
                request.task_id, step_id, STEP_REPORT_FILE
            )
        except Exception as exc:
            raise RuntimeError(f"the report of step {step_id} could not be read: {exc}") from exc
        reports.append(AgentReport.model_validate_json(data))
    return reports


def hand_in(task_id: str, report: AgentReport) -> None:
    """Leave a step's report where BOSS and the steps after it read it: the artifact store."""
    open_store(get_settings()).put_artifacts(task_id, [step_report_file(report)])


class StepDropped(Exception):
    """BOSS dropped this step: it started before the final plan, which does not keep it."""


def _drop_signal(request: SpecialistRequest) -> threading.Event | None:
    if not request.speculative:
        return None
    session = sessions.get(request.task_id)
    return session.drop_signal(request.step.id) if session is not None else None


def _check_dropped(signal: threading.Event | None) -> None:
    if signal is not None and signal.is_set():
        raise StepDropped("dropped by BOSS: the final plan does not keep this step")


def _run_name() -> str:
    request = current_flow_run.parameters.get("request") or {}
    step = request.get("step", {}) if isinstance(request, dict) else request.step.model_dump()
    task_id = request.get("task_id", "") if isinstance(request, dict) else request.task_id
    agent, step_id = step.get("agent", "?"), step.get("id", "?")
    named = agent if step_id == agent else f"{agent} {step_id}"
    return f"{named} · task {task_id[:8]}"


@task(name="1 context slice", cache_policy=NO_CACHE, persist_result=False)
@observe_stage("context_slice")
async def context_stage(
    request: SpecialistRequest, spec: AgentSpec, stack: ExitStack
) -> TaskSession:
    session = sessions.get(request.task_id)
    if session is None:  # a worker elsewhere: open and analyse the target itself
        opened = stack.enter_context(open_target(request.target))
        context = await run_blocking(analyze_opened, opened)
        session = TaskSession(root=opened.root, context=context)
    sliced = slice_context(session.context, spec)
    log.info("context sliced", files=len(sliced.files), kinds=sliced.count_by_kind())
    return TaskSession(root=session.root, context=sliced)


@task(name="2 permission check", cache_policy=NO_CACHE, persist_result=False)
@observe_stage("permission_check")
async def permission_stage(request: SpecialistRequest, spec: AgentSpec) -> list[Capability]:
    step = request.step
    missing = missing_capabilities(step.capabilities, request.caller, spec.capabilities)
    kind = "permission.denied" if missing else "permission.granted"
    await run_blocking(  # a database write: off the loop the other steps run on
        audit.record,
        kind,
        actor=request.caller.name,
        task_id=request.task_id,
        step_id=step.id,
        agent=step.agent,
        role=request.caller.role.value,
        capabilities=[c.value for c in step.capabilities],
        missing=[c.value for c in missing],
    )
    if not missing:
        log.info("permissions granted", capabilities=[c.value for c in step.capabilities])
    return missing


@task(name="3 environment setup", cache_policy=NO_CACHE, persist_result=False)
@observe_stage("environment_setup")
async def environment_stage(
    request: SpecialistRequest, spec: AgentSpec, session: TaskSession
) -> tuple[list[Executor], list[str], frozenset[Capability]]:
    root = session.root.resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"target root {root} is not a folder")
    chain, notes = build_chain(spec, get_settings().model_chain)
    capabilities = granted(request.caller, spec.capabilities) & frozenset(request.step.capabilities)
    for note in notes:
        log.info(note)
    log.info("executors in order", chain=[e.name for e in chain])
    return chain, notes, capabilities


@observe_tools
async def _run_tools(
    request: SpecialistRequest,
    session: TaskSession,
    capabilities: frozenset[Capability],
    prior: list[AgentReport],
) -> ToolsetResult:
    settings = get_settings()

    def tools_then_audit() -> ToolsetResult:  # both block: one trip off the event loop
        started = time.perf_counter()
        log.info("toolset started", tool=f"{request.step.agent}-toolset")
        result = run_toolset(
            request.step.agent,
            session.root,
            session.context,
            prior,
            capabilities,
            {"prometheus_url": settings.prometheus_url},
        )
        seconds = round(time.perf_counter() - started, 3)
        audit.record(
            "tool.called",
            actor=request.step.agent,
            task_id=request.task_id,
            step_id=request.step.id,
            tool=f"{request.step.agent}-toolset",
            files=len(session.context.files),
            findings=len(result.findings),
            seconds=seconds,
        )
        log.info(
            "toolset finished",
            tool=f"{request.step.agent}-toolset",
            files=result.files_scanned,
            findings=len(result.findings),
            suppressed=result.suppressed,
            seconds=seconds,
        )
        log_skipped(log, result.skipped)
        for note in result.notes:
            log.info(note)
        return result

    return await run_blocking(tools_then_audit)


@observe_attempt
async def _attempt(
    executor: Executor, request: ExecutionRequest, timeout: float
) -> ExecutionResult:
    try:
        return await asyncio.wait_for(run_blocking(executor.execute, request), timeout)
    except TimeoutError as exc:
        raise ExecutorError(f"no answer within {timeout:.0f} s", "timeout") from exc


@task(name="4 execute with fallback", cache_policy=NO_CACHE, persist_result=False)
@observe_stage("execute")
async def execute_stage(
    request: SpecialistRequest,
    spec: AgentSpec,
    session: TaskSession,
    chain: list[Executor],
    capabilities: frozenset[Capability],
    prior: list[AgentReport],
) -> tuple[ToolsetResult, ExecutionResult, list[Attempt]]:
    """The toolset first (its findings are never lost), then the executors in chain order."""
    tools = await _run_tools(request, session, capabilities, prior)
    exec_request = ExecutionRequest(
        task_text=request.task,
        step=request.step,
        spec=spec,
        context=session.context,
        root=session.root,
        toolset=tools,
        prior_reports=prior,
        capabilities=capabilities,
        task_id=request.task_id,
        tokens_left=request.tokens_left,
        dropped=_drop_signal(request),
    )
    attempts: list[Attempt] = []
    # the knowledge base learns while the model writes: neither waits for the other
    teaching = (
        asyncio.ensure_future(run_blocking(_teach, request, spec, session, tools, prior))
        if "catalogue_md" in tools.output
        else None
    )
    try:
        result = await _execute_with_fallback(chain, exec_request, spec, attempts)
    finally:
        if teaching is not None:
            tools.notes.append(await teaching)
    if exec_request.notes_of_failed_attempts:
        result.notes = [*exec_request.notes_of_failed_attempts, *result.notes]
    return tools, result, attempts


def _teach(
    request: SpecialistRequest,
    spec: AgentSpec,
    session: TaskSession,
    tools: ToolsetResult,
    prior: list[AgentReport],
) -> str:
    """Publish what the Documentation step knows about the target; one line on what happened.

    Optional, not a need of the step: it runs when the agent's spec allows `publish_knowledge`
    and the caller's role grants it, and a viewer's step still writes its documents."""
    step, caller = request.step, request.caller
    if Capability.publish_knowledge not in granted(caller, spec.capabilities):
        return (
            f"knowledge base not updated: publish_knowledge is not granted to {step.agent} "
            f"for the role {caller.role.value}"
        )
    passages, notes = passages_for(
        request.target,
        request.task_id,
        session.context,
        session.root,
        str(tools.output.get("catalogue_md", "")),
        dict(tools.output.get("runbooks") or {}),
        [f for r in prior for f in r.findings],
    )
    tools.notes.extend(notes)
    # what this task did not look at again stays as the last task left it
    kinds = {PassageKind.doc, PassageKind.catalogue, PassageKind.runbook}
    if prior:
        kinds.add(PassageKind.finding)
    knowledge = open_knowledge()
    try:
        count = knowledge.publish(request.target, passages, kinds)
    except KnowledgeUnavailable as exc:
        log.warning("knowledge base not updated", error=str(exc))
        return f"knowledge base not updated: {exc}"
    audit.record(
        "knowledge.published",
        actor=step.agent,
        task_id=request.task_id,
        step_id=step.id,
        target=request.target,
        passages=count,
    )
    tools.output["knowledge_passages"] = count
    return f"knowledge base: {count} passages about {request.target} ({knowledge.location})"


def _backoff(base: float, retry: int) -> float:
    """Exponential backoff with full jitter: uniform in [base·2^retry / 2, base·2^retry]."""
    ceiling = base * (2**retry)
    return ceiling / 2 + random.random() * ceiling / 2


async def _execute_with_fallback(
    chain: list[Executor], req: ExecutionRequest, spec: AgentSpec, attempts: list[Attempt]
) -> ExecutionResult:
    settings = get_settings()
    for executor in chain:
        is_last = executor is chain[-1]
        tries = 1 if is_last else 1 + settings.step_retries
        for number in range(1, tries + 1):
            _check_dropped(req.dropped)
            started = utcnow()
            log.info("attempt started", executor=executor.name, number=number)
            try:
                result = await _attempt(executor, req, spec.attempt_timeout)
            except ExecutorError as exc:
                outcome = (
                    AttemptOutcome.timed_out
                    if exc.error_class == "timeout"
                    else AttemptOutcome.failed
                )
                attempts.append(
                    Attempt(
                        executor=executor.name,
                        outcome=outcome,
                        error=str(exc)[:500],
                        error_class=exc.error_class,
                        started_at=started,
                        finished_at=utcnow(),
                        tokens=exc.tokens,
                    )
                )
                req.notes_of_failed_attempts.extend(exc.notes)
                _check_dropped(req.dropped)
                retried = exc.transient and number < tries and not is_last
                # a retry is routine; an executor given up on is worth a warning, once per step
                (log.info if retried else log.warning)(
                    "attempt failed" if retried else "executor failed, falling back",
                    executor=executor.name,
                    number=number,
                    error_class=exc.error_class,
                    error=str(exc)[:200],
                )
                if is_last:
                    raise
                if retried:
                    await asyncio.sleep(
                        _backoff(settings.step_retry_base_delay_seconds, number - 1)
                    )
                    continue
                break
            except Exception as exc:
                attempts.append(
                    Attempt(
                        executor=executor.name,
                        outcome=AttemptOutcome.failed,
                        error=f"{type(exc).__name__}: {exc}"[:500],
                        error_class="internal",
                        started_at=started,
                        finished_at=utcnow(),
                    )
                )
                log.warning(
                    "executor failed" if is_last else "executor failed, falling back",
                    executor=executor.name,
                    number=number,
                    error_class="internal",
                    error=f"{type(exc).__name__}: {exc}"[:200],
                )
                if is_last:
                    raise
                break
            attempts.append(
                Attempt(
                    executor=executor.name,
                    outcome=AttemptOutcome.succeeded,
                    started_at=started,
                    finished_at=utcnow(),
                    tokens=result.tokens,
                )
            )
            if req.tokens_left is not None:
                req.tokens_left -= result.tokens.total
            log.info(
                "attempt succeeded",
                executor=executor.name,
                number=number,
                mode=result.mode.value,
                tokens=result.tokens.total,
            )
            return result
    raise RuntimeError("the executor chain is empty")  # build_chain always ends with tool-only


@flow(
    name="specialist",
    flow_run_name=_run_name,
    # the report reaches BOSS through llmgenie's store (`hand_in`), not a result file on the
    # disk of whichever pod ran the step
    persist_result=False,
    log_prints=False,
)
async def specialist_flow(request: SpecialistRequest) -> AgentReport | State:
    """Run one plan step: context slice, permission check, environment, tools and executors.

    Args:
        request: the step, its task and target, the caller, and the reports it depends on.
    """
    try:
        report = await _run_step(request)
    except StepDropped as exc:  # the run ends Cancelled in the UI, not Failed or Crashed
        log.info("step dropped", reason=str(exc))
        return Cancelled(message=str(exc))
    if sessions.get(request.task_id) is None:  # BOSS is elsewhere: it reads the store
        await run_blocking(hand_in, request.task_id, report)
    return report


async def _run_step(request: SpecialistRequest) -> AgentReport:
    prior = await run_blocking(read_prior_reports, request) if request.prior_steps else []
    step = request.step
    dropped = _drop_signal(request)
    flow_run_id = str(current_flow_run.id) if current_flow_run.id else None
    bind_run(task_id=request.task_id, step=step.id, agent=step.agent, flow_run_id=flow_run_id)
    started = utcnow()
    spec = load_specs()[step.agent]
    report = AgentReport(
        id=step.id,
        agent=step.agent,
        status=StepStatus.completed,
        flow_run_id=flow_run_id,
        started_at=started,
    )
    with ExitStack() as stack:
        session = await context_stage(quote(request), quote(spec), quote(stack))
        _check_dropped(dropped)
        missing = await permission_stage(quote(request), quote(spec))
        if missing:
            names = ", ".join(c.value for c in missing)
            log.warning("step denied", missing=names)
            return report.model_copy(
                update={
                    "status": StepStatus.denied,
                    "missing_capabilities": missing,
                    "finished_at": utcnow(),
                    "error": f"denied: needs {names}, which the agent or the caller's role "
                    f"({request.caller.role.value}) does not grant",
                }
            )
        chain, notes, capabilities = await environment_stage(
            quote(request), quote(spec), quote(session)
        )
        _check_dropped(dropped)
        tools, result, attempts = await execute_stage(
            quote(request),
            quote(spec),
            quote(session),
            quote(chain),
            quote(capabilities),
            quote(prior),
        )
        _check_dropped(dropped)
    findings = dedupe_findings([*tools.findings, *result.findings])
    log.info("step completed", mode=result.mode.value, findings=len(findings))
    final = report.model_copy(
        update={
            "mode": result.mode,
            "model": result.model if result.mode is Mode.llm else None,
            "attempts": attempts,
            "summary": result.summary,
            "findings": findings,
            "output": tools.output,
            "notes": [
                *notes,
                *tools.notes,
                *result.notes,
                *(f"skipped {s.path}: {s.reason}" for s in tools.skipped[:50]),
            ],
            "finished_at": utcnow(),
        }
    )
    final = redact_model(final)  # the step's record: no target secret goes further
    session = sessions.get(request.task_id)
    if session is not None:  # BOSS is in this process and awaits the upload
        session.publishing.append(asyncio.create_task(_publish_step(final)))
    else:
        await _publish_step(final)
    return final


async def _publish_step(report: AgentReport) -> None:
    try:
        await apublish_step_artifacts(report)
    except Exception as exc:  # the UI artifacts are a view; the step's report is the record
        log.warning("prefect artifacts not published", error=str(exc)[:200])
