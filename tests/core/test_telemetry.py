"""Metrics: what a finished task adds, and the push to a (real HTTP) Pushgateway."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from llmgenie.core import telemetry
from llmgenie.core.models import (
    AgentReport,
    Attempt,
    AttemptOutcome,
    Finding,
    Plan,
    Severity,
    Step,
    StepStatus,
    TaskReport,
    TaskStatus,
    TokenUsage,
    utcnow,
)


def _report() -> TaskReport:
    now = utcnow()
    finding = Finding(
        rule_id="LG-T-1",
        category="k8s.privileged",
        severity=Severity.critical,
        agent="security",
        title="t",
        message="m",
    )
    attempt = Attempt(
        executor="openai/m",
        outcome=AttemptOutcome.succeeded,
        started_at=now,
        finished_at=now,
        tokens=TokenUsage(prompt=7, completion=3),
    )
    step = AgentReport(
        id="security",
        agent="security",
        status=StepStatus.completed,
        started_at=now - timedelta(seconds=2),
        finished_at=now,
        attempts=[attempt],
        findings=[finding],
    )
    return TaskReport(
        task_id="t",
        task="x",
        target=".",
        status=TaskStatus.completed,
        plan=Plan(steps=[Step(id="security", agent="security")]),
        steps=[step],
        findings=[finding],
    )


def _value(name: str, **labels: str) -> float:
    return telemetry.REGISTRY.get_sample_value(name, labels) or 0.0


def _sample(name: str, **labels: str) -> float | None:
    return telemetry.REGISTRY.get_sample_value(name, labels)


def test_a_task_adds_its_duration_and_each_fallback_by_reason() -> None:
    now = utcnow()
    refused = Attempt(
        executor="openai/m",
        outcome=AttemptOutcome.failed,
        error_class="auth",
        started_at=now,
        finished_at=now,
    )
    retried = refused.model_copy(update={"error_class": "rate_limit"})
    tool_only = refused.model_copy(
        update={"executor": "tool-only", "outcome": AttemptOutcome.succeeded, "error_class": None}
    )
    report = _report()
    # a retry of the same model is no fallback; giving up on it for tool-only is one
    step = report.steps[0].model_copy(update={"attempts": [retried, refused, tool_only]})
    report = report.model_copy(
        update={"steps": [step], "started_at": now - timedelta(seconds=3), "finished_at": now}
    )
    tasks_before = _value("llmgenie_task_duration_seconds_count", status="completed")
    in_5s_before = _value("llmgenie_task_duration_seconds_bucket", status="completed", le="5.0")
    auth_before = _value("llmgenie_fallbacks_total", reason="auth")
    telemetry.record_task(report)
    assert _value("llmgenie_task_duration_seconds_count", status="completed") == tasks_before + 1
    assert (
        _value("llmgenie_task_duration_seconds_bucket", status="completed", le="5.0")
        == in_5s_before + 1
    )
    assert _value("llmgenie_fallbacks_total", reason="auth") == auth_before + 1
    assert _sample("llmgenie_fallbacks_total", reason="rate_limit") in (None, 0.0)


def test_the_buckets_start_at_5_ms_and_failures_read_0_before_the_first() -> None:
    text = telemetry.render().decode()
    assert (
        'llmgenie_step_duration_seconds_bucket{agent="security",le="0.005",mode="tool-only"}'
        in (text)
    )
    assert _sample("llmgenie_tasks_total", status="failed") is not None
    assert _sample("llmgenie_steps_total", agent="devops", status="denied", mode="llm") is not None
    assert _sample("process_resident_memory_bytes") is not None


def test_a_stage_is_timed_and_a_running_step_counted() -> None:
    before = _value("llmgenie_stage_duration_seconds_count", stage="execute", agent="devops")
    with telemetry.step_running("devops"):
        assert _value("llmgenie_steps_running", agent="devops") == 1
        with telemetry.stage_timer("execute", "devops"):
            pass
    assert _value("llmgenie_steps_running", agent="devops") == 0
    assert _value("llmgenie_stage_duration_seconds_count", stage="execute", agent="devops") == (
        before + 1
    )


def test_the_database_pool_in_use_and_idle(postgres_url: str) -> None:
    from llmgenie.core.storage.db import make_engine

    def pool(state: str) -> float:
        return _value("llmgenie_db_pool_connections", backend="postgresql", state=state)

    engine = make_engine(postgres_url)
    try:
        in_use, idle = pool("in_use"), pool("idle")
        with engine.connect():
            assert pool("in_use") == in_use + 1
        assert (pool("in_use"), pool("idle")) == (in_use, idle + 1)
    finally:
        engine.dispose()


def test_record_task_counts_steps_findings_and_tokens() -> None:
    before = _value("llmgenie_llm_tokens_total", model="openai/m", kind="prompt")
    telemetry.record_task(_report())
    assert _value("llmgenie_llm_tokens_total", model="openai/m", kind="prompt") == before + 7
    assert (
        _value(
            "llmgenie_findings_total",
            agent="security",
            severity="critical",
            category="k8s.privileged",
        )
        >= 1
    )
    assert (
        _value("llmgenie_steps_total", agent="security", status="completed", mode="tool-only") >= 1
    )
    assert b"llmgenie_step_duration_seconds_bucket" in telemetry.render()


@pytest.fixture
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str, bytes]]]]:
    received: list[tuple[str, str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.command, self.path, body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()


def test_push_sends_the_registry(pushgateway, monkeypatch: pytest.MonkeyPatch) -> None:
    url, received = pushgateway
    monkeypatch.setenv("LLMGENIE_PUSHGATEWAY_URL", url)
    telemetry.record_task(_report())
    assert telemetry.push() is True
    method, path, body = received[0]
    assert (method, path) == ("PUT", "/metrics/job/llmgenie")
    assert b"llmgenie_tasks_total" in body


def test_push_without_gateway_or_with_a_dead_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMGENIE_PUSHGATEWAY_URL", raising=False)
    assert telemetry.push() is False
    monkeypatch.setenv("LLMGENIE_PUSHGATEWAY_URL", "http://127.0.0.1:9")
    assert telemetry.push() is False
