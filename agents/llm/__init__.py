"""LLM executors: CrewAI specialists over OpenAI, Anthropic and OpenAI-compatible servers.

Importing this package turns CrewAI's and OpenTelemetry's telemetry off (before anything can
import them) and registers the providers with the executor chain. CrewAI itself is imported
when a model is first called, or at start-up by `llmgenie run` when a model is configured
(`preload_providers`); tool-only runs never pay for it.
"""

from __future__ import annotations

from llmgenie.agents.llm.telemetry import disable_telemetry

disable_telemetry()

from llmgenie.agents.executors import register_provider  # noqa: E402
from llmgenie.agents.llm.executor import CrewAIExecutor  # noqa: E402
from llmgenie.agents.llm.providers import PROVIDER_NAMES  # noqa: E402

__all__ = ["CrewAIExecutor", "disable_telemetry"]

for _name in PROVIDER_NAMES:
    register_provider(_name, CrewAIExecutor)
