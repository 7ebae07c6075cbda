"""Test doubles for the flow tests: toolsets and executors with known timing and faults.

They replace real toolsets through the same registry the flows read (`TOOLSETS`,
`PROVIDERS`), so the orchestration under test is the real one on a real Prefect API.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmgenie.agents.executors import PROVIDERS, ExecutionRequest, ExecutionResult, ExecutorError
from llmgenie.agents.specs import AgentSpec
from llmgenie.agents.tools import TOOLSETS
from llmgenie.agents.tools.base import ToolsetInput, ToolsetResult
from llmgenie.core.models import Finding, Mode, Severity, TokenUsage
from llmgenie.core.settings import get_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"


@dataclass
class TimedToolset:
    """Waits at `barrier`, then until `release` is set (if given), records when it ran, returns
    a finding (or raises)."""

    name: str
    release: threading.Event | None = None
    error: Exception | None = None
    barrier: threading.Barrier | None = None
    runs: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, inp: ToolsetInput) -> ToolsetResult:
        start = time.monotonic()
        if self.barrier is not None:  # passes only when every party is running at once
            self.barrier.wait(timeout=60)
        if self.release is not None:  # held until the test lets it go (at the latest, its end)
            self.release.wait(timeout=120)
        if self.error is not None:
            raise self.error
        with self._lock:
            self.runs.append((start, time.monotonic()))
        finding = Finding(
            rule_id=f"TEST-{self.name}",
            category="ops.test",
            severity=Severity.low,
            agent=self.name,
            title=f"{self.name} ran",
            message="test finding",
            file="deploy/api.yaml",
            line=1,
        )
        return ToolsetResult(findings=[finding], files_scanned=len(inp.context.files))


@pytest.fixture
def timed_toolsets(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, TimedToolset]]:
    doubles = {name: TimedToolset(name) for name in TOOLSETS}
    for name, double in doubles.items():
        monkeypatch.setitem(TOOLSETS, name, double)
    yield doubles
    for double in doubles.values():  # a held toolset whose step was abandoned ends now
        if double.release is not None:
            double.release.set()


@dataclass
class ScriptedExecutor:
    """Fails with the scripted error classes in order, then answers."""

    name: str
    script: list[str | None]
    calls: int = 0

    def execute(self, request: ExecutionRequest) -> ExecutionResult:
        step = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if step is not None:
            raise ExecutorError(
                f"scripted {step}",
                step,
                tokens=TokenUsage(prompt=3),
                notes=[f"{self.name} attempt {self.calls}: refused a tool call"],
            )
        return ExecutionResult(
            summary=f"{self.name} wrote this",
            mode=Mode.llm,
            model=self.name,
            tokens=TokenUsage(prompt=10, completion=5),
        )


@pytest.fixture
def scripted_models(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str | None]]]:
    """Register provider `scripted`: `scripted/<name>` follows `scripts[<name>]` per step."""
    scripts: dict[str, list[str | None]] = {}

    def factory(model: str, spec: AgentSpec) -> ScriptedExecutor:
        return ScriptedExecutor(model, scripts[model.split("/", 1)[1]])

    monkeypatch.setitem(PROVIDERS, "scripted", factory)
    yield scripts
    get_settings.cache_clear()


def use_settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(f"LLMGENIE_{key.upper()}", value)
    get_settings.cache_clear()
