"""What the flows add to the metrics: stage timing, steps running, and the work pool's queue depth.

`timed_stage` and `counts_running` decorate the specialist's wrapper stages and BOSS's step
runner (one line each where they are used). `WorkPoolQueue` is a collector: the flow runs
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
from typing import Any, ParamSpec, Protocol, TypeVar

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from llmgenie.core import telemetry
from llmgenie.core.logging import get_logger
from llmgenie.core.models import AgentReport, Step

__all__ = ["WorkPoolQueue", "counts_running", "install_queue_depth", "timed_stage"]

log = get_logger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class _StepRequest(Protocol):
    step: Step


def timed_stage(
    stage: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Observe a wrapper stage's wall time; its first argument is the step's request."""
    if stage not in telemetry.STAGES:
        raise ValueError(f"unknown stage {stage!r}; known: {telemetry.STAGES}")

    def decorate(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(fn)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            request: _StepRequest = args[0] if args else kwargs["request"]  # type: ignore[assignment]
            with telemetry.stage_timer(stage, request.step.agent):
                return await fn(*args, **kwargs)

        return timed

    return decorate


def counts_running(
    run: Callable[[Any], Awaitable[AgentReport]],
) -> Callable[[Any], Awaitable[AgentReport]]:
    """A step runner that counts its step in `llmgenie_steps_running` while it runs."""

    @functools.wraps(run)
    async def counted(request: _StepRequest) -> AgentReport:
        with telemetry.step_running(request.step.agent):
            return await run(request)

    return counted


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
