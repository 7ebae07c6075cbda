"""Wrapper stage 2, the permission check: needed ⊆ the agent's allow-list ∩ the caller's grants."""

from __future__ import annotations

from collections.abc import Iterable

from llmgenie.core.models import Caller, Capability, Role

__all__ = ["ROLE_GRANTS", "granted", "missing_capabilities"]

_READ = {Capability.read_target}
_OPERATE = _READ | {Capability.network, Capability.cluster_read, Capability.publish_knowledge}
_MAINTAIN = _OPERATE | {Capability.write_patch, Capability.run_commands}

#: What each caller role grants. Roles are cumulative: each grants what the one before does.
ROLE_GRANTS: dict[Role, frozenset[Capability]] = {
    Role.viewer: frozenset(_READ),
    Role.operator: frozenset(_OPERATE),
    Role.maintainer: frozenset(_MAINTAIN),
    Role.admin: frozenset(Capability),
}


def granted(caller: Caller, agent_allows: Iterable[Capability]) -> frozenset[Capability]:
    """What a step of this agent may do for this caller."""
    return ROLE_GRANTS[caller.role] & frozenset(agent_allows)


def missing_capabilities(
    needed: Iterable[Capability], caller: Caller, agent_allows: Iterable[Capability]
) -> list[Capability]:
    """The capabilities a step needs but may not have, in a stable order; empty means allowed."""
    have = granted(caller, agent_allows)
    return sorted((c for c in set(needed) if c not in have), key=lambda c: c.value)
