"""The flags commands share (--agents, --fail-on, --role), parsed once, with one wording."""

from __future__ import annotations

from collections.abc import Iterable

from llmgenie.core.models import AGENT_NAMES, Role, Severity
from llmgenie.interfaces.cli.errors import UserError

__all__ = ["at_or_above", "parse_agents", "parse_role", "parse_severity"]


def parse_agents(raw: str | None) -> list[str] | None:
    """`devops,security` → the agents; None → every agent; anything unknown → UserError."""
    if raw is None:
        return None
    agents = [a.strip().lower() for a in raw.split(",") if a.strip()]
    unknown = [a for a in agents if a not in AGENT_NAMES]
    if unknown or not agents:
        raise UserError(
            f"--agents: unknown agent {', '.join(unknown) or '(none given)'}; "
            f"expected a comma-separated list of {', '.join(AGENT_NAMES)}"
        )
    return agents


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


def parse_role(raw: str) -> Role:
    """`operator` → Role.operator; anything else → UserError naming the roles."""
    try:
        return Role(raw.strip().lower())
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise UserError(f"--role: {raw!r} is not one of {roles}") from None


def at_or_above(severities: Iterable[Severity], threshold: Severity | None) -> bool:
    """Whether the --fail-on gate trips: any severity at or above the threshold."""
    return threshold is not None and any(s.at_least(threshold) for s in severities)
