"""The CrewAI executor: one CrewAI Agent + Task per step, built from the agent's spec.

The model gets the toolset's findings, the context and a budgeted view of the tool output, may
call the guarded read-only tools, and writes the step's summary. Its own caps are enforced here,
at the HTTP transport, not only by CrewAI (a thread cannot be killed from outside): a call
budget (the spec's `max_iterations` plus CrewAI's forced final answer), a wall-clock deadline
and the token budget. Provider failures become `ExecutorError`s with the chain's error classes.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from typing import Any

from llmgenie.agents.executors import ExecutionRequest, ExecutionResult, ExecutorError
from llmgenie.agents.llm import breaker
from llmgenie.agents.llm.errors import mask_secrets, to_executor_error
from llmgenie.agents.llm.guard import ToolGuard
from llmgenie.agents.llm.metering import CallMeter, CapReached
from llmgenie.agents.llm.prompts import build_task_prompt, parse_answer, proposed_finding
from llmgenie.agents.llm.providers import ModelEndpoint, make_llm, resolve_endpoint
from llmgenie.agents.llm.quiet import crew_output_suppressed
from llmgenie.agents.specs import AgentSpec
from llmgenie.core import audit
from llmgenie.core.models import Finding, Mode, TokenUsage
from llmgenie.core.settings import get_settings

__all__ = ["CallMeter", "CapReached", "CrewAIExecutor", "run_crew"]

#: Calls beyond max_iterations that CrewAI may make (its forced final answer).
_EXTRA_CALLS = 2
#: Our deadline ends a little before the subflow's wall-clock cap so the error is ours.
_DEADLINE_SHARE = 0.9


#: Meters of providers metered by CrewAI's before-LLM-call hook, by id() of their LLM object.
_HOOKED: dict[int, CallMeter] = {}
_hook_lock = threading.Lock()
_hook_installed = False


def _meter_by_hook(llm: Any, meter: CallMeter) -> None:
    """Cap calls of an LLM whose SDK cannot take our transport (one global hook, looked up by
    the LLM object), and count its tokens from CrewAI's usage metrics afterwards."""
    global _hook_installed
    from crewai.hooks import register_before_llm_call_hook

    with _hook_lock:
        if not _hook_installed:
            register_before_llm_call_hook(_before_llm_call)
            _hook_installed = True
        _HOOKED[id(llm)] = meter


def _before_llm_call(context: Any) -> bool | None:
    meter = _HOOKED.get(id(context.llm))
    if meter is not None:
        meter.before_call()  # raises CapReached at a cap
    return None


def _release_hook(llm: Any, meter: CallMeter) -> None:
    with _hook_lock:
        _HOOKED.pop(id(llm), None)
    try:
        usage = llm.get_token_usage_summary()
    except Exception:  # the tokens are accounting, not the answer
        return
    meter.tokens = TokenUsage(prompt=usage.prompt_tokens, completion=usage.completion_tokens)


def run_crew(
    spec: AgentSpec, llm: Any, tools: list[Any], description: str, expected_output: str
) -> Any:
    """One CrewAI Agent + Task from the spec, run as a one-agent crew; returns its output."""
    from crewai import Agent, Process, Task

    agent = Agent(
        role=spec.role,
        goal=spec.goal,
        backstory=spec.backstory,
        llm=llm,
        tools=tools,
        max_iter=spec.max_iterations,
        max_retry_limit=0,
        allow_delegation=False,
        respect_context_window=False,
        verbose=False,
    )
    task = Task(description=description, expected_output=expected_output, agent=agent)
    crew = _crew_class()(agents=[agent], tasks=[task], process=Process.sequential, verbose=False)
    return crew.kickoff()


@functools.cache
def _crew_class() -> type[Any]:
    """CrewAI's Crew without its replay log.

    A Crew builds the log as it is constructed: a SQLite file (`latest_kickoff_task_outputs.db`)
    opened under a cross-process file lock that waiters poll every 0.25 s, then rewritten and
    fsynced on every kickoff, all for `crew.replay()`, which llmgenie never calls; the step's
    report is the record. Three specialists building their crews at once queued on that lock:
    their model calls went out ~300 ms after the first (docs/decisions/0013-speculative-start.md).
    """
    from crewai import Crew
    from pydantic import PrivateAttr

    class CrewWithoutReplayLog(Crew):
        _task_output_handler: Any = PrivateAttr(default_factory=_NoReplayLog)

    return CrewWithoutReplayLog


class _NoReplayLog:
    """Stands in for CrewAI's replay log (`_crew_class`)."""

    def update(self, task_index: int, log: dict[str, Any]) -> None:
        pass

    def add(self, *args: Any, **kwargs: Any) -> None:
        pass

    def reset(self) -> None:
        pass

    def load(self) -> None:
        return None


class CrewAIExecutor:
    """An executor for one `provider/model`; its name is that string."""

    def __init__(self, model: str, spec: AgentSpec) -> None:
        self.name = model
        self.spec = spec

    def execute(self, request: ExecutionRequest) -> ExecutionResult:
        started = time.monotonic()
        spec = request.spec
        budget = _budget(spec.token_budget, request.tokens_left)
        if budget is not None and budget <= 0:
            raise ExecutorError(f"{self.name}: the task's token budget is used up", "budget")
        endpoint = resolve_endpoint(self.name)
        breaker.check(request.task_id, endpoint.host, self.name)
        settings = get_settings()
        guard = ToolGuard(
            root=request.root,
            context=request.context,
            capabilities=request.capabilities,
            agent=request.step.agent,
            task_id=request.task_id,
            step_id=request.step.id,
            prometheus_url=settings.prometheus_url,
            knowledge_target=request.context.target.location,
        )
        limit = spec.attempt_timeout * _DEADLINE_SHARE
        meter = CallMeter(
            model_id=self.name,
            deadline=started + limit,
            max_calls=spec.max_iterations + _EXTRA_CALLS,
            token_budget=budget,
            guard=guard,
            dropped=request.dropped,
        )
        outcome = "failed"
        try:
            raw = self._run(endpoint, request, guard, meter, limit)
            result = self._result(raw, request, guard, meter)
            outcome = "succeeded"
            return result
        except ExecutorError as exc:
            exc.notes.extend(n for n in guard.notes if n not in exc.notes)
            if exc.error_class == "timeout":
                breaker.trip(request.task_id, endpoint.host, self.name)
            raise
        finally:
            audit.record(
                "model.called",
                actor=request.step.agent,
                task_id=request.task_id or None,
                step_id=request.step.id,
                model=self.name,
                endpoint=endpoint.host,
                calls=meter.calls,
                tokens=meter.tokens.model_dump(),
                outcome=outcome,
                seconds=round(time.monotonic() - started, 3),
            )

    def _run(
        self,
        endpoint: ModelEndpoint,
        request: ExecutionRequest,
        guard: ToolGuard,
        meter: CallMeter,
        limit: float,
    ) -> str:
        secrets = endpoint.secrets
        try:
            from llmgenie.agents.llm.crew_tools import build_tools

            with crew_output_suppressed():
                llm = make_llm(endpoint, timeout=limit)
                if not endpoint.metered_at_transport:
                    _meter_by_hook(llm, meter)
                tools = build_tools(guard)
                meter.offered = frozenset(tool.name for tool in tools)
                try:
                    with meter.metering():
                        output = run_crew(
                            request.spec,
                            llm,
                            tools,
                            build_task_prompt(request),
                            "one JSON object with summary and findings",
                        )
                finally:
                    if not endpoint.metered_at_transport:
                        _release_hook(llm, meter)
        except ExecutorError:
            raise
        except (Exception, SystemExit) as exc:  # CrewAI raises SystemExit on context overflow
            if meter.stopped is not None:
                error_class, reason = meter.stopped
                raise ExecutorError(
                    f"{self.name}: {reason}", error_class, tokens=meter.tokens
                ) from None
            # CrewAI's forced last turn still answered with tool calls: the runaway loop
            looping = meter.last_tool_calls or "TaskOutput" in str(exc)
            if meter.calls > request.spec.max_iterations and looping:
                raise ExecutorError(
                    f"{self.name}: still calling tools after {meter.calls} model calls "
                    f"(max_iterations {request.spec.max_iterations})",
                    "iteration_limit",
                    tokens=meter.tokens,
                ) from None
            raise to_executor_error(exc, self.name, secrets, meter.tokens) from None
        if meter.stopped is not None:
            error_class, reason = meter.stopped
            raise ExecutorError(f"{self.name}: {reason}", error_class, tokens=meter.tokens)
        if meter.token_budget is not None and meter.tokens.total > meter.token_budget:
            raise ExecutorError(
                f"{self.name}: token budget exceeded ({meter.tokens.total}/{meter.token_budget})",
                "budget",
                tokens=meter.tokens,
            )
        return str(getattr(output, "raw", output) or "")

    def _result(
        self, raw: str, request: ExecutionRequest, guard: ToolGuard, meter: CallMeter
    ) -> ExecutionResult:
        parsed = parse_answer(raw)
        if parsed is None:
            raise ExecutorError(
                f"{self.name}: the final answer was empty", "empty_answer", meter.tokens
            )
        if not parsed.is_json:  # docs/llm.md: an answer that does not parse goes to the next
            raise ExecutorError(
                f"{self.name}: the final answer was not the JSON object asked for",
                "bad_answer",
                meter.tokens,
            )
        secrets = resolve_endpoint(self.name).secrets
        notes = list(guard.notes)
        findings = _checked_findings(parsed.findings, request, guard, notes, secrets)
        return ExecutionResult(
            summary=mask_secrets(parsed.summary, secrets)[:8000],
            mode=Mode.llm,
            model=self.name,
            findings=findings,
            tokens=meter.tokens,
            notes=notes,
        )


def _budget(spec_budget: int | None, tokens_left: int | None) -> int | None:
    limits = [b for b in (spec_budget, tokens_left) if b is not None]
    return min(limits) if limits else None


def _checked_findings(
    proposals: list[dict[str, Any]],
    request: ExecutionRequest,
    guard: ToolGuard,
    notes: list[str],
    secrets: list[str],
) -> list[Finding]:
    """Keep a proposed finding only if its file and line exist in the target and a tool showed
    them (the toolset's findings or the model's own read_file/search_target calls)."""
    from_tools: dict[str, set[int]] = {}
    for f in request.toolset.findings:
        if f.file and f.line:
            from_tools.setdefault(f.file, set()).add(f.line)
    kept: list[Finding] = []
    for raw in proposals[:50]:
        if raw.get("evidence"):
            raw = {**raw, "evidence": mask_secrets(str(raw["evidence"]), secrets)}
        finding = proposed_finding(raw, request.step.agent)
        if finding is None:
            notes.append(f"dropped a model finding without title, file and line: {_brief(raw)}")
            continue
        file, line = finding.file or "", finding.line or 0
        shown = line in guard.shown.get(file, set()) or line in from_tools.get(file, set())
        if not guard.line_exists(file, line):
            notes.append(
                f"dropped model finding {finding.title!r}: {file}:{line} is not in the target"
            )
        elif not shown:
            notes.append(f"dropped model finding {finding.title!r}: no tool returned {file}:{line}")
        else:
            kept.append(finding)
    return kept


def _brief(raw: dict[str, Any]) -> str:
    return json.dumps(raw, default=str)[:120]
