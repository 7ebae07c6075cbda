"""Loading the model providers ahead of a run: only when a model is named."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

_CHECK = """
import sys
from llmgenie.agents.executors import preload_providers
preload_providers({models!r})
loaded = sys.modules
print("llm" if "llmgenie.agents.llm" in loaded else "-", "crewai" if "crewai" in loaded else "-")
"""


def _loaded_after(models: list[str]) -> str:
    run = subprocess.run(
        [sys.executable, "-c", _CHECK.format(models=models)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip()


def test_no_model_loads_nothing() -> None:
    assert _loaded_after([]) == "- -"


def test_a_named_model_loads_its_provider_and_crewai() -> None:
    assert _loaded_after(["openai/gpt-4o-mini"]) == "llm crewai"


def test_a_model_of_no_known_provider_does_not_load_crewai() -> None:
    assert _loaded_after(["nosuch/model"]) == "llm -"
