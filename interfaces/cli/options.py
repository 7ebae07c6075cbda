"""The flags commands share (--agents, --fail-on), parsed once, with one wording."""

from __future__ import annotations

from collections.abc import Iterable

from llmgenie.core.models import AGENT_NAMES, Severity
from llmgenie.flows.service import check_agents
from llmgenie.interfaces.cli.errors import UserError

__all__ = ["at_or_above", "parse_agents", "parse_severity"]


def parse_agents(raw: str | None) -> list[str] | None:
    """`devops,security` → the agents (the task service checks them); None → every agent."""
    if raw is None:
        return None
    agents = [a for a in raw.split(",") if a.strip()]
    if not agents:
        raise UserError(f"--agents: none given; expected some of {', '.join(AGENT_NAMES)}")
    return check_agents(agents)


def parse_severity(raw: str | None, flag: str = "--fail-on") -> Severity | None:
    if raw is None:
        return None
    try:
        return Severity(raw.strip().lower())
    except ValueError:
        raise UserError(
            f"{flag}: unknown severity {raw!r}; expected one of "
            f"{', '.join(s.value for s in Severity)}"
        ) from None


def at_or_above(severities: Iterable[Severity], threshold: Severity | None) -> bool:
    """Whether the --fail-on gate trips: any severity at or above the threshold."""
    return threshold is not None and any(s.at_least(threshold) for s in severities)
