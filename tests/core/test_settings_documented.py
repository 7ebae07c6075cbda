"""Every setting the code reads is documented in docs/settings.md."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from llmgenie.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
LAYERS = ("core", "agents", "flows", "interfaces")


def _env_names_of_settings() -> set[str]:
    names = set()
    for field, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        else:
            names.add(f"LLMGENIE_{field.upper()}")
    return names


def _env_names_in_code() -> set[str]:
    names: set[str] = set()
    for layer in LAYERS:
        for path in (ROOT / layer).rglob("*.py"):
            names.update(re.findall(r"\bLLMGENIE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text("utf-8")))
    return names


def test_every_settings_field_is_documented() -> None:
    missing = sorted(n for n in _env_names_of_settings() if f"`{n}`" not in DOC)
    assert not missing, f"add to docs/settings.md: {missing}"


def test_every_llmgenie_variable_the_code_reads_is_documented() -> None:
    names = _env_names_in_code()
    assert "LLMGENIE_API_TOKEN" in names  # the scan finds variables read outside Settings
    missing = sorted(n for n in names if f"`{n}`" not in DOC)
    assert not missing, f"add to docs/settings.md: {missing}"
