"""Documentation collector: the service catalogue and runbooks from the inventory and reports."""

from __future__ import annotations

from llmgenie.core.models import Finding

from ..base import ToolsetInput, ToolsetResult
from ..devops.inventory import collect_inventory
from ..scanning import Scan
from .catalogue import render_catalogue
from .cloud import cloud_resources
from .fragments import patch_files

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
    # a patch scanned as a raw file (kustomize not rendered) is a fragment: no row, no runbook
    fragments = patch_files(inp.root, inp.context) & set(scan.raw_files)
    if fragments:
        inventory = {
            **inventory,
            "workloads": [w for w in inventory["workloads"] if w["file"] not in fragments],
            "services": [s for s in inventory.get("services", []) if s["file"] not in fragments],
        }
        notes.append(
            f"{len(fragments)} Kustomize patch file(s) left out of the catalogue: fragments of "
            "objects, not whole ones (render with kubectl to document the variants)"
        )
    title = f"Service catalogue: {inp.context.target.location}"
    cloud = cloud_resources(scan, inp.context.files)
    out = render_catalogue(inventory, inp.prior_reports, findings, title=title, cloud=cloud)
    return ToolsetResult(
        output={"catalogue_md": out["catalogue_md"], "runbooks": out["runbooks"]},
        notes=[*notes, out["summary"]],
    )
