"""Issue 19 point 9: a model step has a default wall-clock cap per attempt, minutes not ten.

The cap's enforcement (a hung call ends at its deadline, and the endpoint is not asked again)
is proved in tests/agents/llm/test_llm_bounds.py; this pins the default and the setting.
"""

from __future__ import annotations

import pytest

from llmgenie.agents.specs import load_specs
from llmgenie.core.settings import get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> None:
    get_settings.cache_clear()


def test_every_agent_caps_a_model_attempt_at_minutes_by_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LLMGENIE_LLM_ATTEMPT_TIMEOUT_SECONDS", raising=False)
    caps = {name: spec.attempt_timeout for name, spec in load_specs().items()}
    assert caps and all(30 <= cap <= 300 for cap in caps.values()), caps


def test_the_setting_changes_every_agents_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGENIE_LLM_ATTEMPT_TIMEOUT_SECONDS", "7")
    get_settings.cache_clear()
    caps = {name: spec.attempt_timeout for name, spec in load_specs().items()}
    assert caps and set(caps.values()) == {7.0}, caps
    get_settings.cache_clear()
