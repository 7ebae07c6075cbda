"""Settings from the environment: what cannot be used is named, variable by variable."""

from __future__ import annotations

import pytest

from llmgenie.core.settings import SettingsError, check_model_id, get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> object:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("chain", "expected"),
    [
        ("openai/gpt-4o-mini,anthropic/claude-3-5-haiku-latest,ollama/llama3.1", None),
        (" openai/gpt-4o-mini , ollama/llama3.1 ", None),
        ("none", None),
        ("gpt-4o", "'gpt-4o' is not provider/model, e.g. openai/gpt-4o-mini"),
        ("openai/gpt-4o-mini,openai/", "'openai/' is not provider/model"),
    ],
)
def test_the_model_chain_is_checked_when_read(
    monkeypatch: pytest.MonkeyPatch, chain: str, expected: str | None
) -> None:
    monkeypatch.setenv("LLMGENIE_LLM", chain)
    if expected is None:
        assert all(check_model_id(m) == m for m in get_settings().model_chain)
        return
    with pytest.raises(SettingsError) as caught:
        get_settings()
    assert str(caught.value).startswith(f"LLMGENIE_LLM={chain!r}: {expected}")


def test_each_unusable_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMGENIE_STEP_TIMEOUT_SECONDS", "soon")
    monkeypatch.setenv("LLMGENIE_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError) as caught:
        get_settings()
    message = str(caught.value)
    assert "LLMGENIE_STEP_TIMEOUT_SECONDS='soon': Input should be a valid number" in message
    assert "LLMGENIE_LOG_FORMAT='xml': Input should be 'console' or 'json'" in message
    assert "\n" not in message
