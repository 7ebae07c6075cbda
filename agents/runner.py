"""The specialist runner: the plain-Python work of one step, called by the specialist subflow.

Kept free of Prefect so it is testable alone: slice the context for the agent, run its toolset,
merge what executors add, and shape everything into the step's `AgentReport`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llmgenie.agents.specs import AgentSpec
from llmgenie.agents.tools.base import ToolsetInput, ToolsetResult
from llmgenie.core.models import AgentReport, Capability, Context, Finding

__all__ = ["dedupe_findings", "run_toolset", "slice_context"]


def slice_context(context: Context, spec: AgentSpec) -> Context:
    """Wrapper stage 1 for one agent: only the file kinds its tools read."""
    if spec.file_kinds is None:
        return context
    kinds = set(spec.file_kinds)
    return context.model_copy(update={"files": [f for f in context.files if f.kind in kinds]})


def run_toolset(
    agent: str,
    root: Path,
    context: Context,
    prior_reports: list[AgentReport],
    capabilities: frozenset[Capability],
    settings: dict[str, object] | None = None,
) -> ToolsetResult:
    from llmgenie.agents.tools import TOOLSETS

    toolset = TOOLSETS.get(agent)
    if toolset is None:
        raise LookupError(f"no toolset for agent {agent!r}")
    return toolset.run(
        ToolsetInput(
            root=root,
            context=context,
            prior_reports=prior_reports,
            capabilities=capabilities,
            settings=dict(settings or {}),
        )
    )


def dedupe_findings(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per id, the most severe kept, worst first, then by file and line."""
    best: dict[str, Finding] = {}
    for f in findings:
        seen = best.get(f.id)
        if seen is None or f.severity.rank > seen.severity.rank:
            best[f.id] = f
    return sorted(
        best.values(), key=lambda f: (-f.severity.rank, f.file or "", f.line or 0, f.rule_id)
    )
