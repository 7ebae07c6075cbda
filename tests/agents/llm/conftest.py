"""Fixtures for the LLM tests: a scripted OpenAI-protocol server on loopback and the settings
that point llmgenie at it (through the providers' own variables, as a user would)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from llmgenie.agents.executors import preload_providers
from llmgenie.core.settings import get_settings
from tests.support.openai_server import (
    Reply,
    ScriptedModelServer,
    final_answer,
    is_planner,
    rules_like_plan,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop"
API_KEY = "sk-test-0123456789abcdefghijklmnop"

ALL_STEPS = ["security", "devops", "performance", "documentation"]


def default_responder(body: dict[str, Any]) -> Reply:
    if is_planner(body):
        return Reply.text(rules_like_plan())
    return Reply.text(final_answer("The scripted model's narrative."))


@pytest.fixture
def model_server() -> Iterator[ScriptedModelServer]:
    with ScriptedModelServer(default_responder) as server:
        yield server


@pytest.fixture
def use_model(
    monkeypatch: pytest.MonkeyPatch, llmgenie_home: Path
) -> Iterator[Callable[..., None]]:
    """`use_model(server, "openai/a,openai/b", **env)` configures the chain for this test."""

    def configure(server: ScriptedModelServer, chain: str = "openai/scripted", **env: str) -> None:
        monkeypatch.setenv("LLMGENIE_LLM", chain)
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        # as the CLI does before a run: CrewAI's imports (seconds on a loaded machine, the first
        # time in the process) stay out of the attempt deadlines the tests measure
        preload_providers(chain.split(","))

    yield configure
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _log_to_the_live_stderr() -> None:
    """structlog's PrintLogger keeps the stderr it was configured with; an earlier test's
    capsys stream is closed by now, so bind it again to the stream in place for this test."""
    from llmgenie.core.logging import configure_logging

    configure_logging(force=True)
