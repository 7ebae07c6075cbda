"""Executors: what writes a step's report after its toolset ran — a model, or the template.

The fallback chain is the LLM executors built from the model chain (`LLMGENIE_LLM`, or the agent
spec's `models`) followed by the tool-only executor, which is always last and never fails. An
executor raises `ExecutorError` with an error class; `transient` errors are retried with backoff
before the chain moves on, the rest move on at once.
"""

from __future__ import annotations

import importlib
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from llmgenie.agents.specs import AgentSpec
from llmgenie.agents.tools.base import ToolsetResult
from llmgenie.core.models import AgentReport, Capability, Context, Finding, Mode, Step, TokenUsage

__all__ = [
    "PROVIDERS",
    "ExecutionRequest",
    "ExecutionResult",
    "Executor",
    "ExecutorError",
    "ToolOnlyExecutor",
    "build_chain",
    "preload_providers",
    "register_provider",
    "unknown_providers",
]

#: Error classes that are worth retrying on the same executor.
TRANSIENT_ERRORS = frozenset(
    {"rate_limit", "server_error", "timeout", "connection", "empty_answer"}
)


class ExecutorError(Exception):
    """An executor attempt failed; `error_class` says how (rate_limit, auth, timeout, …)."""

    def __init__(
        self,
        message: str,
        error_class: str,
        tokens: TokenUsage | None = None,
        notes: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.tokens = tokens or TokenUsage()
        self.notes = list(notes or [])  # what the attempt refused or dropped before it failed

    @property
    def transient(self) -> bool:
        return self.error_class in TRANSIENT_ERRORS


@dataclass
class ExecutionRequest:
    task_text: str
    step: Step
    spec: AgentSpec
    context: Context
    root: Path
    toolset: ToolsetResult
    prior_reports: list[AgentReport] = field(default_factory=list)
    capabilities: frozenset[Capability] = frozenset({Capability.read_target})
    task_id: str = ""
    tokens_left: int | None = None
    #: what failed attempts refused or dropped (tool denials, …), kept for the step's notes
    notes_of_failed_attempts: list[str] = field(default_factory=list)
    #: set when BOSS drops the step (a speculative start the final plan does not keep): the
    #: executor stops before its next model call
    dropped: threading.Event | None = None


@dataclass
class ExecutionResult:
    summary: str
    mode: Mode
    model: str | None = None
    findings: list[Finding] = field(default_factory=list)
    tokens: TokenUsage = field(default_factory=TokenUsage)
    notes: list[str] = field(default_factory=list)


class Executor(Protocol):
    name: str

    def execute(self, request: ExecutionRequest) -> ExecutionResult: ...


ProviderFactory = Callable[[str, AgentSpec], Executor]

#: provider name → factory(model, spec). `agents.llm` registers openai, anthropic, ollama, ….
PROVIDERS: dict[str, ProviderFactory] = {}


def register_provider(name: str, factory: ProviderFactory) -> None:
    PROVIDERS[name] = factory


class ToolOnlyExecutor:
    """The last executor: a summary written from the toolset's results by a template."""

    name = "tool-only"

    def execute(self, request: ExecutionRequest) -> ExecutionResult:
        return ExecutionResult(summary=tool_only_summary(request), mode=Mode.tool_only)


def tool_only_summary(request: ExecutionRequest) -> str:
    result = request.toolset
    findings = result.findings
    severities = Counter(f.severity.value for f in findings)
    order = ["critical", "high", "medium", "low", "info"]
    counted = ", ".join(f"{severities[s]} {s}" for s in order if severities[s])
    lines = [
        f"{request.spec.role} (tool-only: no model ran). "
        f"Scanned {result.files_scanned} file(s); "
        + (f"{len(findings)} finding(s): {counted}." if findings else "no findings.")
    ]
    top = sorted(findings, key=lambda f: -f.severity.rank)[:5]
    for f in top:
        where = f.file + (f":{f.line}" if f.line else "") if f.file else (f.resource or "")
        lines.append(f"- [{f.severity.value}] {f.title} — {where}")
    if result.suppressed:
        lines.append(f"{result.suppressed} finding(s) suppressed inline.")
    lines.extend(result.notes[:5])
    return "\n".join(lines)


def build_chain(spec: AgentSpec, model_chain: list[str]) -> tuple[list[Executor], list[str]]:
    """The executors for one step, tool-only last, and notes on models that could not be used."""
    models = list(spec.models) or list(model_chain)
    notes: list[str] = []
    chain: list[Executor] = []
    _register_providers_of(models, notes)
    for model in models:
        provider = _provider(model)
        factory = PROVIDERS.get(provider)
        if factory is None:
            notes.append(f"model {model!r}: no provider {provider!r} is available; skipped")
            continue
        chain.append(factory(model, spec))
    chain.append(ToolOnlyExecutor())
    return chain, notes


def preload_providers(models: list[str]) -> None:
    """Import the providers' code and their SDK now, for a process about to call these models.

    Otherwise CrewAI (about 3 s of imports here) loads when the planner first calls the model:
    inside the run, on its critical path, beside the steps' own start. Nothing to do for an
    empty list; a provider that is not installed is left for `build_chain` to note on the step.
    """
    _register_providers_of(models, [])
    if any(_provider(m) in PROVIDERS for m in models):  # a model will be called through CrewAI
        importlib.import_module("llmgenie.agents.llm.providers").import_sdk()


def unknown_providers(models: list[str]) -> tuple[list[str], list[str]]:
    """The models whose provider is not registered, and why (e.g. LLM support not installed)."""
    notes: list[str] = []
    _register_providers_of(models, notes)
    return [m for m in models if _provider(m) not in PROVIDERS], notes


def _provider(model: str) -> str:
    return model.split("/", 1)[0]


def _register_providers_of(models: list[str], notes: list[str]) -> None:
    """Register the LLM providers unless every model's provider already is (none for no models);
    a note when LLM support is not installed."""
    if all(_provider(m) in PROVIDERS for m in models):
        return
    try:
        importlib.import_module("llmgenie.agents.llm")
    except ImportError as exc:
        notes.append(f"LLM support is not installed ({exc.name}); install llmgenie[llm]")
