"""Metrics with prometheus-client: tasks, steps, attempts, findings and tokens.

Long-running processes expose them (`render()` gives the Prometheus text format); short-lived
ones (a CLI run, a flow-run pod) push them to a Pushgateway when `LLMGENIE_PUSHGATEWAY_URL` is
set. Only the flows call `record_task`; nothing here knows about Prefect.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import push_to_gateway

from llmgenie.core.models import TaskReport

__all__ = ["REGISTRY", "push", "record_task", "render"]

REGISTRY = CollectorRegistry(auto_describe=True)

TASKS = Counter("llmgenie_tasks", "Tasks finished, by status", ["status"], registry=REGISTRY)
STEPS = Counter(
    "llmgenie_steps",
    "Steps finished, by agent, status and mode",
    ["agent", "status", "mode"],
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "llmgenie_step_duration_seconds",
    "Wall time of a step",
    ["agent"],
    registry=REGISTRY,
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900),
)
ATTEMPTS = Counter(
    "llmgenie_attempts",
    "Executor attempts, by executor and outcome",
    ["executor", "outcome"],
    registry=REGISTRY,
)
FINDINGS = Counter(
    "llmgenie_findings",
    "Findings reported, by agent and severity",
    ["agent", "severity"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "llmgenie_llm_tokens",
    "Model tokens used, by executor and kind",
    ["executor", "kind"],
    registry=REGISTRY,
)


def record_task(report: TaskReport) -> None:
    TASKS.labels(report.status.value).inc()
    for step in report.steps:
        STEPS.labels(step.agent, step.status.value, step.mode.value).inc()
        if step.started_at and step.finished_at:
            STEP_SECONDS.labels(step.agent).observe(
                (step.finished_at - step.started_at).total_seconds()
            )
        for attempt in step.attempts:
            ATTEMPTS.labels(attempt.executor, attempt.outcome.value).inc()
            TOKENS.labels(attempt.executor, "prompt").inc(attempt.tokens.prompt)
            TOKENS.labels(attempt.executor, "completion").inc(attempt.tokens.completion)
    for finding in report.findings:
        FINDINGS.labels(finding.agent, finding.severity.value).inc()


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
