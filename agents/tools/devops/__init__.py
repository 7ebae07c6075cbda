"""DevOps toolset: schema and removed-API rules, the inventory and remediation patches.

Importing it registers them with the engine under the `devops` agent.
"""

from __future__ import annotations

from ..engine import register, register_collector
from .collectors import collect_devops
from .schema import schema_rules

__all__ = ["collect_devops", "schema_rules"]

register("devops", "k8s", schema_rules)
register_collector("devops", collect_devops)
