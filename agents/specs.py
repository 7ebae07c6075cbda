"""Agent specs: one YAML file per agent in `agents/specs/`, validated on load.

Adding a specialist is adding a spec and its toolset; the planner, the permission check and the
LLM executors read everything else from here.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmgenie.core.models import Capability, FileKind
from llmgenie.core.settings import check_model_id, get_settings

__all__ = ["AgentSpec", "SpecError", "load_specs"]


class SpecError(ValueError):
    """An agent spec is missing, malformed or inconsistent; the message names the file."""


class AgentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    role: str
    goal: str
    backstory: str
    capabilities: list[Capability] = Field(description="what steps of this agent may ever do")
    needs: list[Capability] = Field(default_factory=lambda: [Capability.read_target])
    tools: list[str] = Field(default_factory=list)
    rule_groups: list[str] = Field(
        default_factory=list, description="the rule groups its toolset runs (checks/)"
    )
    collectors: list[str] = Field(
        default_factory=list, description="the collectors its toolset runs after the rules"
    )
    keywords: list[str] = Field(
        default_factory=list, description="task words that select it (whole words; `stem*`)"
    )
    file_kinds: list[FileKind] | None = Field(None, description="its context slice; None = all")
    runs_after: list[str] = Field(default_factory=list, description="default plan edges")
    models: list[str] = Field(default_factory=list, description="overrides LLMGENIE_LLM")
    max_iterations: int = Field(6, ge=1, le=50)
    attempt_timeout_seconds: float = Field(120.0, gt=0)
    token_budget: int | None = Field(None, gt=0)

    @property
    def attempt_timeout(self) -> float:
        """The wall-clock cap of one model attempt of this agent's steps, in seconds:
        `LLMGENIE_LLM_ATTEMPT_TIMEOUT_SECONDS` when set, else `attempt_timeout_seconds`."""
        return get_settings().attempt_timeout(self.attempt_timeout_seconds)

    @field_validator("models")
    @classmethod
    def _models_are_known(cls, models: list[str]) -> list[str]:
        return [check_model_id(m) for m in models]


def _parse(name: str, text: str) -> AgentSpec:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"agent spec {name}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SpecError(f"agent spec {name}: expected a mapping at the top level")
    try:
        spec = AgentSpec.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise SpecError(f"agent spec {name}: {problems}") from exc
    if f"{spec.name}.yaml" != name:
        raise SpecError(f"agent spec {name}: name {spec.name!r} does not match the file name")
    missing = [c.value for c in spec.needs if c not in spec.capabilities]
    if missing:
        raise SpecError(f"agent spec {name}: needs {missing} that its capabilities do not allow")
    return spec


def load_specs(folder: Path | None = None) -> dict[str, AgentSpec]:
    """All specs by agent name; `folder` overrides the packaged ones (tests, plug-ins)."""
    if folder is None:
        return dict(_packaged_specs())
    return _load_folder(folder)


def _load_folder(folder: Path) -> dict[str, AgentSpec]:
    specs = {p.name: _parse(p.name, p.read_text()) for p in sorted(folder.glob("*.yaml"))}
    return _check_edges({s.name: s for s in specs.values()})


@lru_cache(maxsize=1)
def _packaged_specs() -> tuple[tuple[str, AgentSpec], ...]:
    folder = resources.files("llmgenie.agents") / "specs"
    specs = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            spec = _parse(entry.name, entry.read_text())
            specs[spec.name] = spec
    return tuple(_check_edges(specs).items())


def _check_edges(specs: dict[str, AgentSpec]) -> dict[str, AgentSpec]:
    for spec in specs.values():
        unknown = [a for a in spec.runs_after if a not in specs]
        if unknown:
            raise SpecError(f"agent spec {spec.name}.yaml: runs_after names unknown {unknown}")
    return specs
