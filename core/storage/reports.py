"""Report files for the artifact store: Markdown, SARIF 2.1.0, and the patches a step proposed.

SARIF comes from `llmgenie.core.render` (one SARIF dialect for `scan` and `run`); Markdown of a
whole task (steps, attempts, findings) is rendered here, as `render` covers scan results only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from llmgenie.core.models import (
    AgentReport,
    Finding,
    ScanResult,
    ScanSummary,
    TaskReport,
)
from llmgenie.core.render import md_cell, render_sarif

__all__ = ["findings_rows", "markdown", "patches_of", "sarif", "step_markdown"]

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def markdown(report: TaskReport) -> str:
    """The task report as Markdown: header, steps, findings table, notes."""
    return _markdown(report)


def sarif(report: TaskReport) -> str:
    """SARIF 2.1.0, the same document as `llmgenie scan --format sarif` renders."""
    result = ScanResult(findings=report.findings, summary=ScanSummary(skipped=report.skipped))
    return render_sarif(result)


def _markdown(report: TaskReport) -> str:
    out = [f"# {report.task}", ""]
    out.append(f"* task: `{report.task_id}`")
    out.append(f"* target: `{report.target}`")
    out.append(f"* status: **{report.status.value}**")
    if report.started_at:
        out.append(f"* started: {report.started_at.isoformat()}")
    if report.finished_at:
        out.append(f"* finished: {report.finished_at.isoformat()}")
    counts = ", ".join(f"{k}: {v}" for k, v in report.summary.by_severity.items() if v)
    out.append(f"* findings: {len(report.findings)}" + (f" ({counts})" if counts else ""))
    out.append("")
    out.append("## Steps")
    out.append("")
    out.append("| step | agent | status | mode | findings |")
    out.append("|---|---|---|---|---|")
    for s in report.steps:
        out.append(
            f"| {s.id} | {s.agent} | {s.status.value} | {s.mode.value}"
            + (f" ({s.model})" if s.model else "")
            + f" | {len(s.findings)} |"
        )
    for s in report.steps:
        if s.summary or s.error or s.notes:
            out += ["", f"### {s.id}", ""]
            if s.summary:
                out += [s.summary, ""]
            if s.error:
                out.append(f"* error: {s.error}")
            out += [f"* {note}" for note in _notes_beyond_summary(s)]
    out += ["", "## Findings", ""]
    if not report.findings:
        out.append("No findings.")
    else:
        out += _findings_table(report.findings, limit=10_000)
    if report.notes:
        out += ["", "## Notes", ""] + [f"* {n}" for n in report.notes]
    return "\n".join(out) + "\n"


def patches_of(step: AgentReport) -> Iterator[tuple[str, str]]:
    """(file name, unified diff) for each patch in `step.output["patches"]`.

    Accepted shapes: a mapping name → diff, or a list of diffs / of objects with a diff
    (`diff` or `patch`) and a name (`name`, `file` or `path`).
    """
    patches = step.output.get("patches") if isinstance(step.output, dict) else None
    if not patches:
        return
    items: list[tuple[str | None, Any]]
    if isinstance(patches, dict):
        items = list(patches.items())
    elif isinstance(patches, list):
        items = []
        for p in patches:
            if isinstance(p, dict):
                name = p.get("name") or p.get("file") or p.get("path")
                items.append((name, p.get("diff") or p.get("patch")))
            else:
                items.append((None, p))
    else:
        return
    seen: set[str] = set()
    for i, (name, diff) in enumerate(items, 1):
        if not isinstance(diff, str) or not diff:
            continue
        base = _SAFE_NAME.sub("_", str(name)).strip("._") if name else f"patch-{i}"
        base = base or f"patch-{i}"
        fname = base if base.endswith((".diff", ".patch")) else f"{base}.diff"
        while fname in seen:
            fname = f"{i}-{fname}"
        seen.add(fname)
        yield fname, diff


def documents_of(step: AgentReport) -> Iterator[tuple[str, str]]:
    """(file name, Markdown) for the documents a step wrote: `output["catalogue_md"]` as
    `catalogue.md` and each `output["runbooks"][service]` as `runbooks/<service>.md`."""
    output = step.output if isinstance(step.output, dict) else {}
    catalogue = output.get("catalogue_md")
    if isinstance(catalogue, str) and catalogue:
        yield "catalogue.md", catalogue
    runbooks = output.get("runbooks")
    if isinstance(runbooks, dict):
        for service, text in sorted(runbooks.items()):
            if isinstance(text, str) and text:
                yield (
                    f"runbooks/{_SAFE_NAME.sub('-', str(service)).strip('-') or 'service'}.md",
                    text,
                )


def _notes_beyond_summary(step: AgentReport) -> list[str]:
    """The step's notes its summary does not already say: a tool-only summary ends with the
    toolset's notes, and the report would otherwise print each of them twice."""
    said = set((step.summary or "").splitlines())
    return [n for n in step.notes if n not in said]


def step_markdown(step: AgentReport, *, max_findings: int = 500) -> str:
    """One specialist step as Markdown (what its subflow shows in the Prefect UI)."""
    out = [f"# {step.agent}: {step.id}", ""]
    out.append(f"* status: **{step.status.value}**")
    out.append(f"* mode: {step.mode.value}" + (f" ({step.model})" if step.model else ""))
    out.append(f"* attempts: {len(step.attempts)}")
    out.append(f"* findings: {len(step.findings)}")
    if step.error:
        out.append(f"* error: {step.error}")
    if step.summary:
        out += ["", step.summary]
    if notes := _notes_beyond_summary(step):
        out += ["", "## Notes", ""] + [f"* {n}" for n in notes]
    out += ["", "## Findings", ""]
    out += _findings_table(step.findings, max_findings) if step.findings else ["No findings."]
    return "\n".join(out) + "\n"


def findings_rows(findings: list[Finding], limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of the findings table: severity, category, resource, file:line, title, rule, id."""
    ordered = sorted(findings, key=lambda f: -f.severity.rank)
    if limit is not None:
        ordered = ordered[:limit]
    return [
        {
            "severity": f.severity.value,
            "category": f.category,
            "resource": f.resource or "",
            "location": f.location or "",
            "title": f.title,
            "rule_id": f.rule_id,
            "id": f.id,
        }
        for f in ordered
    ]


def _findings_table(findings: list[Finding], limit: int) -> list[str]:
    out = ["| severity | category | resource | location | title |", "|---|---|---|---|---|"]
    for row in findings_rows(findings, limit):
        out.append(
            f"| {row['severity']} | {row['category']} | {md_cell(row['resource'])} "
            f"| {md_cell(row['location'])} | {md_cell(row['title'])} |"
        )
    if len(findings) > limit:
        out.append(f"\n… and {len(findings) - limit} more (see report.json)")
    return out
