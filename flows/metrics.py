"""What the flows add to metrics and traces: stages, steps, tasks, tools, attempts, queue depth.

The `observe_*` decorators wrap the flows' own functions (one line each where they are used):
each times what it wraps into a metric and, when tracing is on (`llmgenie.flows.tracing`),
opens a span with the task's and step's ids. `WorkPoolQueue` is a collector: the flow runs
waiting on the work pool, read from the Prefect API in a thread of its own and cached a few
seconds, so a scrape never waits on Prefect and never fails because of it.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from llmgenie.core import telemetry
from llmgenie.core.logging import get_logger
from llmgenie.core.models import AgentReport, Mode, Step, TaskReport
from llmgenie.flows.tracing import span

__all__ = [
    "WorkPoolQueue",
    "install_queue_depth",
    "observe_attempt",
    "observe_stage",
    "observe_step",
    "observe_task",
    "observe_tools",
]

log = get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class _StepRequest(Protocol):
    """What a specialist's request and an executor's request both carry."""

    task_id: str
    step: Step


class _Task(Protocol):
    id: str


class _Executor(Protocol):
    name: str


class _Findings(Protocol):
    findings: list[Any]


class _Result(Protocol):
    mode: Mode
    tokens: Any


def observe_stage(
    stage: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Time a wrapper stage (metric and span); its first argument is the step's request."""
    if stage not in telemetry.STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {telemetry.STAGES}")

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def observed(*args: P.args, **kwargs: P.kwargs) -> R:
            request: _StepRequest = args[0] if args else kwargs["request"]  # type: ignore[assignment]
            step = request.step
            with (
                telemetry.stage_timer(stage, step.agent),
                span(
                    f"stage {stage}",
                    task_id=request.task_id,
                    step_id=step.id,
                    agent=step.agent,
                    stage=stage,
                ),
            ):
                return await fn(*args, **kwargs)

        return observed

    return decorate


def observe_step(
    run: Callable[[Any], Awaitable[AgentReport]],
) -> Callable[[Any], Awaitable[AgentReport]]:
    """A step runner that counts its step in `llmgenie_steps_running` while it runs, in a span."""

    @functools.wraps(run)
    async def observed(request: _StepRequest) -> AgentReport:
        step = request.step
        with (
            telemetry.step_running(step.agent),
            span(
                f"step {step.agent}", task_id=request.task_id, step_id=step.id, agent=step.agent
            ) as current,
        ):
            report = await run(request)
            if current is not None:
                current.set_attribute("llmgenie.status", report.status.value)
                current.set_attribute("llmgenie.mode", report.mode.value)
                current.set_attribute("llmgenie.findings", len(report.findings))
            return report

    return observed


def observe_task(
    run: Callable[Concatenate[Any, P], Awaitable[TaskReport]],
) -> Callable[Concatenate[Any, P], Awaitable[TaskReport]]:
    """A task, from its start to its stored report, in a span (its first argument: the Task)."""

    @functools.wraps(run)
    async def observed(task: _Task, *args: P.args, **kwargs: P.kwargs) -> TaskReport:
        with span("task", task_id=task.id) as current:
            report = await run(task, *args, **kwargs)
            if current is not None:
                current.set_attribute("llmgenie.status", report.status.value)
                current.set_attribute("llmgenie.findings", len(report.findings))
            return report

    return observed


def observe_tools(
    run: Callable[Concatenate[Any, P], Awaitable[R]],
) -> Callable[Concatenate[Any, P], Awaitable[R]]:
    """A step's toolset run, in a span (its first argument: the step's request)."""

    @functools.wraps(run)
    async def observed(request: _StepRequest, *args: P.args, **kwargs: P.kwargs) -> R:
        step = request.step
        tool = f"{step.agent}-toolset"
        with span(
            f"tool {tool}", task_id=request.task_id, step_id=step.id, agent=step.agent, tool=tool
        ) as current:
            result = await run(request, *args, **kwargs)
            if current is not None:
                findings: _Findings = result  # type: ignore[assignment]
                current.set_attribute("llmgenie.findings", len(findings.findings))
            return result

    return observed


def observe_attempt(
    run: Callable[Concatenate[Any, Any, P], Awaitable[R]],
) -> Callable[Concatenate[Any, Any, P], Awaitable[R]]:
    """One executor attempt (a model call, or the tool-only template) in a span; its first
    arguments: the executor and its request."""

    @functools.wraps(run)
    async def observed(
        executor: _Executor, request: _StepRequest, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        step = request.step
        kind = "tool-only" if executor.name == Mode.tool_only.value else "model"
        with span(
            f"{kind} {executor.name}",
            task_id=request.task_id,
            step_id=step.id,
            agent=step.agent,
            executor=executor.name,
        ) as current:
            result = await run(executor, request, *args, **kwargs)
            if current is not None:
                answer: _Result = result  # type: ignore[assignment]
                current.set_attribute("llmgenie.tokens.prompt", answer.tokens.prompt)
                current.set_attribute("llmgenie.tokens.completion", answer.tokens.completion)
            return result

    return observed


class WorkPoolQueue(Collector):
    """`llmgenie_work_pool_queue_depth`: flow runs of the work pool due to start and not yet
    started (Scheduled and late, or Pending). Left out of a scrape while Prefect has not
    answered for longer than `stale_after` seconds; a failed read is logged, never raised."""

    def __init__(self, work_pool: str, ttl: float = 5.0, stale_after: float = 60.0) -> None:
        self.work_pool = work_pool
        self.ttl = ttl
        self.stale_after = stale_after
        self._value: float | None = None
        self._read_at = 0.0
        self._asked_at = float("-inf")
        self._reading: threading.Thread | None = None
        self._lock = threading.Lock()
        #: set after each read, answered or not (for whoever waits on the first one)
        self.read = threading.Event()

    def describe(self) -> Iterable[Metric]:
        yield self._family()

    def collect(self) -> Iterable[Metric]:
        self.refresh_if_due()
        with self._lock:
            value, read_at = self._value, self._read_at
        family = self._family()
        if value is not None and time.monotonic() - read_at <= self.stale_after:
            family.add_metric([self.work_pool], value)
        yield family

    def refresh_if_due(self) -> None:
        """Start a read in the background unless one runs or the last began `ttl` s ago."""
        with self._lock:
            now = time.monotonic()
            idle = self._reading is None or not self._reading.is_alive()
            if not idle or now - self._asked_at < self.ttl:
                return
            self._asked_at = now
            self._reading = threading.Thread(  # with the caller's Prefect settings
                target=contextvars.copy_context().run,
                args=(self._refresh,),
                name="llmgenie-queue-depth",
                daemon=True,
            )
            self._reading.start()

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "llmgenie_work_pool_queue_depth",
            "Flow runs of the work pool due to start and not started yet (Scheduled or Pending)",
            labels=["work_pool"],
        )

    def _refresh(self) -> None:
        try:
            value = float(_count_waiting(self.work_pool))
        except Exception as exc:  # Prefect down or slow: the gauge goes stale, the scrape works
            log.warning("work pool queue depth not read", error=str(exc)[:200])
        else:
            with self._lock:
                self._value, self._read_at = value, time.monotonic()
        finally:
            self.read.set()


def _count_waiting(work_pool: str) -> int:
    """One count: a Pending run was due when it left Scheduled, so one time filter fits both."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
        WorkPoolFilter,
        WorkPoolFilterName,
    )
    from prefect.client.schemas.objects import StateType

    waiting = FlowRunFilter(
        state=FlowRunFilterState(
            type=FlowRunFilterStateType(any_=[StateType.SCHEDULED, StateType.PENDING])
        ),
        expected_start_time=FlowRunFilterExpectedStartTime(before_=datetime.now(UTC)),
    )
    pool = WorkPoolFilter(name=WorkPoolFilterName(any_=[work_pool]))
    with get_client(sync_client=True) as client:
        return client.count_flow_runs(work_pool_filter=pool, flow_run_filter=waiting)


_installed: dict[str, WorkPoolQueue] = {}


def install_queue_depth(work_pool: str) -> WorkPoolQueue:
    """Register the work pool's queue depth with the metrics registry, once per process, and
    start its first read."""
    collector = _installed.get(work_pool)
    if collector is None:
        collector = _installed[work_pool] = WorkPoolQueue(work_pool)
        telemetry.REGISTRY.register(collector)
        # known by the first scrape; and a Prefect server's first answer to this query is slow
        # (over a second, measured on the embedded one), better paid at start-up than mid-service
        collector.refresh_if_due()
    return collector
