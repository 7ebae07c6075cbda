"""Documentation toolset: service catalogue and runbooks, registered under `documentation`."""

from __future__ import annotations

from ..engine import register_collector
from .catalogue import render_catalogue, render_runbook
from .collectors import collect_documentation

__all__ = ["collect_documentation", "render_catalogue", "render_runbook"]

register_collector("documentation", collect_documentation)
