"""Metrics with prometheus-client: tasks, steps, wrapper stages, fallbacks, tokens, findings, API.

Every metric llmgenie exposes is defined here, in one registry; docs/observability.md lists
them and the PromQL that answers each question the product brief asks. Long-running processes
expose them (`render()` gives the Prometheus text format); short-lived ones (a CLI run, a
flow-run pod) push them to a Pushgateway when `LLMGENIE_PUSHGATEWAY_URL` is set. The flows call
`record_task`, `stage_timer` and `step_running`; the REST API's middleware observes
`API_SECONDS`; nothing here knows about Prefect (the work pool's queue depth is a collector in
`llmgenie.flows.metrics`).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from itertools import pairwise

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import push_to_gateway
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection

from llmgenie.core.models import (
    AGENT_NAMES,
    AttemptOutcome,
    Mode,
    StepStatus,
    TaskReport,
    TaskStatus,
)

__all__ = [
    "API_SECONDS",
    "REGISTRY",
    "STAGES",
    "push",
    "record_task",
    "record_task_ended",
    "render",
    "stage_timer",
    "step_running",
]

REGISTRY = CollectorRegistry(auto_describe=True)

#: From 5 ms: a tool-only step takes 0.06-0.35 s, a wrapper stage a few ms. 2 s is the SLA of a
#: tool-only step (the alert rule's threshold), so it is a bucket boundary.
_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900)
_TASK_BUCKETS = (*_BUCKETS, 1800, 3600)

#: The four wrapper stages of a step, as the `stage` label names them.
STAGES = ("context_slice", "permission_check", "environment_setup", "execute")

TASKS = Counter("llmgenie_tasks", "Tasks finished, by status", ["status"], registry=REGISTRY)
TASK_SECONDS = Histogram(
    "llmgenie_task_duration_seconds",
    "Wall time of a task, from its start to its stored report, by status",
    ["status"],
    registry=REGISTRY,
    buckets=_TASK_BUCKETS,
)
STEPS = Counter(
    "llmgenie_steps",
    "Steps finished, by agent, status and mode",
    ["agent", "status", "mode"],
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "llmgenie_step_duration_seconds",
    "Wall time of a step, by agent and mode (llm or tool-only)",
    ["agent", "mode"],
    registry=REGISTRY,
    buckets=_BUCKETS,
)
STEPS_RUNNING = Gauge(
    "llmgenie_steps_running",
    "Steps running now, by agent (the active agent sessions)",
    ["agent"],
    registry=REGISTRY,
)
STAGE_SECONDS = Histogram(
    "llmgenie_stage_duration_seconds",
    "Wall time of a wrapper stage of a step, by stage and agent",
    ["stage", "agent"],
    registry=REGISTRY,
    buckets=_BUCKETS,
)
ATTEMPTS = Counter(
    "llmgenie_attempts",
    "Executor attempts, by executor and outcome",
    ["executor", "outcome"],
    registry=REGISTRY,
)
FALLBACKS = Counter(
    "llmgenie_fallbacks",
    "Executors given up on for the next in the chain, by the last attempt's error class",
    ["reason"],
    registry=REGISTRY,
)
FINDINGS = Counter(
    "llmgenie_findings",
    "Findings reported, by agent, severity and category",
    ["agent", "severity", "category"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "llmgenie_llm_tokens",
    "Model tokens used, by model (the executor: 'openai/gpt-4o-mini', … or 'tool-only') and kind",
    ["model", "kind"],
    registry=REGISTRY,
)
API_SECONDS = Histogram(
    "llmgenie_api_request_duration_seconds",
    "REST API requests, by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
    buckets=_BUCKETS,
)

# The label values known up front start at 0: a failure rate reads 0, not "no data", before
# the first failure (https://prometheus.io/docs/practices/instrumentation/#avoid-missing-metrics)
for _status in TaskStatus:
    if _status is not TaskStatus.running:
        TASKS.labels(_status.value)
for _agent in AGENT_NAMES:
    for _step_status in StepStatus:
        for _mode in Mode:
            STEPS.labels(_agent, _step_status.value, _mode.value)
ProcessCollector(registry=REGISTRY)  # CPU, memory and open files of this process


def record_task(report: TaskReport) -> None:
    """What a finished task adds: its duration and status, its steps, attempts and findings."""
    TASKS.labels(report.status.value).inc()
    if report.started_at and report.finished_at:
        seconds = (report.finished_at - report.started_at).total_seconds()
        TASK_SECONDS.labels(report.status.value).observe(seconds)
    for step in report.steps:
        mode = step.mode.value
        STEPS.labels(step.agent, step.status.value, mode).inc()
        if step.started_at and step.finished_at:
            STEP_SECONDS.labels(step.agent, mode).observe(
                (step.finished_at - step.started_at).total_seconds()
            )
        for attempt in step.attempts:
            ATTEMPTS.labels(attempt.executor, attempt.outcome.value).inc()
            TOKENS.labels(attempt.executor, "prompt").inc(attempt.tokens.prompt)
            TOKENS.labels(attempt.executor, "completion").inc(attempt.tokens.completion)
        for attempt, following in pairwise(step.attempts):
            gave_up = following.executor != attempt.executor
            if gave_up and attempt.outcome is not AttemptOutcome.succeeded:
                FALLBACKS.labels(attempt.error_class or "unknown").inc()
    for finding in report.findings:
        FINDINGS.labels(finding.agent, finding.severity.value, finding.category).inc()


def record_task_ended(status: TaskStatus) -> None:
    """A task that ended without a report (failed or interrupted before it could merge one)."""
    TASKS.labels(status.value).inc()


@contextmanager
def step_running(agent: str) -> Iterator[None]:
    """Count a step as running for as long as the block runs."""
    gauge = STEPS_RUNNING.labels(agent)
    gauge.inc()
    try:
        yield
    finally:
        gauge.dec()


@contextmanager
def stage_timer(stage: str, agent: str) -> Iterator[None]:
    """Observe the block's wall time as wrapper stage `stage` of a step of `agent`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        STAGE_SECONDS.labels(stage, agent).observe(time.perf_counter() - started)


class _PoolCollector(Collector):
    """The metadata database's connection pools: connections in use and idle, read at scrape
    time from each pool an engine of this process has connected through."""

    def __init__(self) -> None:
        self.pools: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()

    def remember(self, connection: Connection) -> None:
        engine = connection.engine
        if engine not in self.pools:
            self.pools[engine] = engine.url.get_backend_name()

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily(
            "llmgenie_db_pool_connections",
            "Metadata database connections in this process's pools, by backend and state",
            labels=["backend", "state"],
        )
        totals: dict[tuple[str, str], float] = {}
        for engine, backend in list(self.pools.items()):
            pool = engine.pool
            for state, read in (("in_use", "checkedout"), ("idle", "checkedin")):
                count = getattr(pool, read, None)
                if callable(count):  # QueuePool has both; NullPool and StaticPool neither
                    key = (backend, state)
                    totals[key] = totals.get(key, 0) + float(count())
        for (backend, state), value in sorted(totals.items()):
            family.add_metric([backend, state], value)
        yield family


_POOLS = _PoolCollector()
REGISTRY.register(_POOLS)
event.listen(Engine, "engine_connect", _POOLS.remember)


def render() -> bytes:
    return generate_latest(REGISTRY)


def push(job: str = "llmgenie") -> bool:
    """Push to `LLMGENIE_PUSHGATEWAY_URL` when set; True when pushed. Never raises."""
    url = os.environ.get("LLMGENIE_PUSHGATEWAY_URL")
    if not url:
        return False
    try:
        push_to_gateway(url, job=job, registry=REGISTRY, timeout=5)
    except OSError:
        return False
    return True
