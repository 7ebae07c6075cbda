"""The specialists' deterministic toolsets: `TOOLSETS` per agent and `scan(path)` for the CLI.

Each agent runs the rule groups and collectors its spec names (`llmgenie.agents.tools.registry`)
over the one scan of the target (`llmgenie.agents.tools.scanning`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from llmgenie.agents.tools.engine import AgentToolset, EngineResult, Progress, Sink, run_engine
from llmgenie.core.models import AGENT_NAMES, ScanResult
from llmgenie.core.settings import Settings

__all__ = ["TOOLSETS", "scan", "scan_detailed"]

TOOLSETS: dict[str, AgentToolset] = {name: AgentToolset(name) for name in AGENT_NAMES}


def scan_detailed(
    path: str | Path,
    agents: Iterable[str] | None = None,
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
    sink: Sink | None = None,
    outputs: bool = True,
) -> EngineResult:
    """Analyse a target and run the toolsets of `agents` (all by default) over it.

    `outputs=False` is the findings-only path (`llmgenie scan`): collectors that only build
    structured output — inventory, remediation patches, the catalogue — are skipped.
    """
    from llmgenie.core.context import analyze_opened
    from llmgenie.core.targets import open_target

    agent_list = list(agents) if agents is not None else list(AGENT_NAMES)
    unknown = [a for a in agent_list if a not in TOOLSETS]
    if unknown:
        raise ValueError(f"unknown agent(s): {', '.join(unknown)}; known: {', '.join(TOOLSETS)}")
    with open_target(str(path), settings) as opened:
        context = analyze_opened(opened, settings)
        return run_engine(
            opened.root,
            context,
            agent_list,
            progress=progress,
            sink=sink,
            settings=None if outputs else {"outputs": False},
        )


def scan(path: str | Path, agents: Iterable[str] | None = None) -> ScanResult:
    """The fast path of `llmgenie scan`: every finding of the chosen agents' toolsets."""
    return scan_detailed(path, agents, outputs=False).scan
