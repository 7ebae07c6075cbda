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
