"""DevOps collectors: the inventory and the remediation patches of the target."""

from __future__ import annotations

from llmgenie.core.models import Finding

from ..base import ToolsetInput, ToolsetResult
from ..scanning import Scan
from .inventory import collect_inventory
from .patches import FIXABLE_CATEGORIES, PATCH_BUDGET_SECONDS, build_patches

__all__ = ["collect_devops", "security_findings"]


def security_findings(inp: ToolsetInput, findings: list[Finding]) -> list[Finding] | None:
    """The fixable findings known to this step (this run and earlier reports); None if none ran."""
    pool = list(findings) + [f for r in inp.prior_reports for f in r.findings]
    ran = any(f.agent == "security" for f in pool) or any(
        r.agent == "security" for r in inp.prior_reports
    )
    if not ran:
        return None
    return [f for f in pool if f.category in FIXABLE_CATEGORIES]


def collect_devops(inp: ToolsetInput, scan: Scan, findings: list[Finding]) -> ToolsetResult:
    """Inventory (of the scan's objects, rendered ones included) plus patches.

    Patches fix what the security findings name when security ran, else every fixable gap (and
    say so). `settings["patches"] = False` skips them, `settings["outputs"] = False` skips
    inventory and patches both (the CI fast path keeps findings only);
    `settings["patch_budget_seconds"]` bounds the time they take.
    """
    if inp.settings.get("outputs") is False:
        return ToolsetResult()  # `llmgenie scan` keeps findings only: skip the structured data
    inventory = collect_inventory(inp.root, inp.context, scan.k8s_objects())
    if inp.settings.get("patches") is False:
        return ToolsetResult(
            output={"inventory": inventory}, notes=["remediation patches not requested"]
        )
    images = [i["image"] for i in inventory["images"]]
    wanted = security_findings(inp, findings)
    budget = float(inp.settings.get("patch_budget_seconds", PATCH_BUDGET_SECONDS))
    patches = build_patches(inp.root, inp.context, wanted, images=images, budget_seconds=budget)
    notes = list(patches.notes)
    if wanted is None and patches.diffs:
        notes.append("patches cover every fixable gap: no security findings to narrow them")
    if patches.diffs:
        notes.append(
            f"{len(patches.diffs)} remediation patch(es), {len(patches.fixes)} fix(es); "
            "artifacts only, nothing applied"
        )
    return ToolsetResult(output={"inventory": inventory, **patches.as_output()}, notes=notes)
