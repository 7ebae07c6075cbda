"""Secrets from mounted files: `NAME_FILE` stands for `NAME` (Vault Agent, the Secrets Store CSI
driver and Docker secrets write files, not environment variables)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from llmgenie.core.settings import SettingsError, get_settings


@pytest.fixture(autouse=True)
def _fresh_settings() -> object:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_setting_and_a_provider_key_are_read_from_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tmp_path / "database-url"
    url.write_text("postgresql+psycopg://llmgenie:s3cret@db/llmgenie\n")
    key = tmp_path / "openai"
    key.write_text("sk-test-key")
    monkeypatch.delenv("LLMGENIE_DATABASE_URL", raising=False)
    # set, then deleted: monkeypatch records it either way, so the key the settings export below
    # is removed again afterwards (a plain delenv of an absent key records nothing)
    monkeypatch.setenv("OPENAI_API_KEY", "")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("LLMGENIE_DATABASE_URL_FILE", str(url))
    monkeypatch.setenv("PROMETHEUS_URL_FILE", str(key))
    monkeypatch.setenv("OPENAI_API_KEY_FILE", str(key))

    settings = get_settings()
    assert settings.database_url == "postgresql+psycopg://llmgenie:s3cret@db/llmgenie"
    assert settings.prometheus_url == "sk-test-key"  # a setting with an alias too
    assert os.environ["OPENAI_API_KEY"] == "sk-test-key"  # what the model client reads


@pytest.mark.parametrize(
    ("set_too", "expected"),
    [
        (False, "LLMGENIE_DATABASE_URL_FILE='/nonexistent/llmgenie-url': cannot be read"),
        (True, "LLMGENIE_DATABASE_URL and LLMGENIE_DATABASE_URL_FILE are both set"),
    ],
)
def test_an_unreadable_or_doubled_secret_is_named(
    monkeypatch: pytest.MonkeyPatch, set_too: bool, expected: str
) -> None:
    monkeypatch.setenv("LLMGENIE_DATABASE_URL_FILE", "/nonexistent/llmgenie-url")
    if set_too:
        monkeypatch.setenv("LLMGENIE_DATABASE_URL", "sqlite:///x.db")
    else:
        monkeypatch.delenv("LLMGENIE_DATABASE_URL", raising=False)
    with pytest.raises(SettingsError, match=expected.replace("(", r"\(")):
        get_settings()
