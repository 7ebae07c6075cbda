"""The collectors: structured output built from the scan, named for the agent specs.

`inventory` (the DevOps agent: inventory and remediation patches), `prometheus` (the
Performance agent: live right-sizing) and `catalogue` (the Documentation agent: service
catalogue and runbooks). Each is `fn(inp, scan, findings) -> ToolsetResult`.
"""

from __future__ import annotations

from llmgenie.agents.tools.devops.collectors import collect_devops
from llmgenie.agents.tools.documentation.collectors import collect_documentation
from llmgenie.agents.tools.performance.collectors import collect_prometheus
from llmgenie.agents.tools.registry import Registry

__all__ = ["register_collectors"]


def register_collectors(registry: Registry) -> None:
    """Make every collector available to the agent specs by name."""
    registry.collector("inventory", collect_devops)
    registry.collector("prometheus", collect_prometheus)
    registry.collector("catalogue", collect_documentation)
