"""The one shape every toolset has: it takes the analysed target and returns findings plus data.

A toolset is a plain object over plain data: no Prefect, no CrewAI, no network unless the
step holds the `network` capability. The specialist subflow calls `Toolset.run`; `llmgenie
scan` calls the same thing with no orchestration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, Field

from llmgenie.core.models import AgentReport, Capability, Context, Finding, SkippedFile

__all__ = ["Toolset", "ToolsetInput", "ToolsetResult"]


@dataclass(frozen=True)
class ToolsetInput:
    """What a toolset gets: the confined target root, its context, and what ran before."""

    root: Path
    context: Context
    prior_reports: list[AgentReport] = field(default_factory=list)
    capabilities: frozenset[Capability] = frozenset({Capability.read_target})
    settings: dict[str, Any] = field(default_factory=dict)


class ToolsetResult(BaseModel):
    findings: list[Finding] = Field(default_factory=list)
    output: dict[str, Any] = Field(
        default_factory=dict, description="structured data for other agents and the report"
    )
    files_scanned: int = 0
    suppressed: int = 0
    skipped: list[SkippedFile] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Toolset(Protocol):
    name: str

    def run(self, inp: ToolsetInput) -> ToolsetResult: ...
