"""Documentation collector: the service catalogue and runbooks from the inventory and reports."""

from __future__ import annotations

from llmgenie.core.models import Finding

from ..base import ToolsetInput, ToolsetResult
from ..devops.inventory import collect_inventory
from ..scanning import Scan
from .catalogue import render_catalogue
from .cloud import cloud_resources

__all__ = ["collect_documentation"]


def collect_documentation(inp: ToolsetInput, scan: Scan, findings: list[Finding]) -> ToolsetResult:
    """Use the DevOps report's inventory when there is one, else build it here.

    `settings["outputs"] = False` (the findings-only scan path) skips the catalogue.
    """
    if inp.settings.get("outputs") is False:
        return ToolsetResult()
    inventory = next(
        (r.output["inventory"] for r in inp.prior_reports if r.output.get("inventory")), None
    )
    notes = []
    if inventory is None:
        inventory = collect_inventory(inp.root, inp.context, scan.k8s_objects())
        notes.append("inventory built by the documentation step (no DevOps report before it)")
    title = f"Service catalogue: {inp.context.target.location}"
    cloud = cloud_resources(scan, inp.context.files)
    out = render_catalogue(inventory, inp.prior_reports, findings, title=title, cloud=cloud)
    return ToolsetResult(
        output={"catalogue_md": out["catalogue_md"], "runbooks": out["runbooks"]},
        notes=[*notes, out["summary"]],
    )
