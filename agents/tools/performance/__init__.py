"""Performance toolset: `perf.*` rules over Kubernetes objects and the Prometheus collector.

Importing it registers both with the engine under the `performance` agent.
"""

from __future__ import annotations

from ..engine import register, register_collector
from .collectors import collect_prometheus
from .kubernetes import performance_rules

__all__ = ["collect_prometheus", "performance_rules"]

register("performance", "k8s", performance_rules)
register_collector("performance", collect_prometheus)
