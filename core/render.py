"""Render scan results and task reports as JSON (CONTRACTS.md), SARIF 2.1.0 or Markdown.

The core knows no agents: rule metadata for SARIF comes in as `RuleMeta` values (the agents'
rule catalogue builds them); a finding whose rule is not in the catalogue gets a rule entry
made from the finding itself. A task's report (steps, attempts, findings) renders as Markdown
and as the same SARIF document as a scan; one step as Markdown for its Prefect artifact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Literal
from urllib.parse import quote

from llmgenie.core.models import (
    AgentReport,
    Finding,
    ScanResult,
    ScanSummary,
    Severity,
    TaskReport,
    severity_counts,
)
from llmgenie.core.redact import redact, redact_model

__all__ = [
    "FORMATS",
    "SARIF_SCHEMA_URI",
    "Format",
    "RuleMeta",
    "findings_rows",
    "human_size",
    "render",
    "render_json",
    "render_markdown",
    "render_report_markdown",
    "render_report_sarif",
    "render_sarif",
    "render_step_markdown",
    "sarif_schema",
]

Format = Literal["json", "sarif", "markdown"]
FORMATS: tuple[str, ...] = ("json", "sarif", "markdown")
SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_INFO_URI = "https://github.com/llmgenie/llmgenie"

_SARIF_LEVEL = {
    Severity.critical: "error",
    Severity.high: "error",
    Severity.medium: "warning",
    Severity.low: "note",
    Severity.info: "note",
}
# GitHub code scanning reads `security-severity` (0-10) to label alerts critical/high/….
_SECURITY_SEVERITY = {
    Severity.critical: "9.5",
    Severity.high: "8.0",
    Severity.medium: "5.5",
    Severity.low: "3.0",
    Severity.info: "0.0",
}
_ORDER = [Severity.critical, Severity.high, Severity.medium, Severity.low, Severity.info]


@dataclass(frozen=True)
class RuleMeta:
    """What SARIF and docs need to know of a rule."""

    id: str
    category: str
    severity: Severity
    title: str
    help: str
    agent: str = ""
    remediation: str = ""
    references: tuple[str, ...] = field(default_factory=tuple)


def _as_result(result: ScanResult | Sequence[Finding]) -> ScanResult:
    """The result to render, secrets redacted (every format renders through here)."""
    if not isinstance(result, ScanResult):
        findings = list(result)
        result = ScanResult(
            findings=findings, summary=ScanSummary(by_severity=severity_counts(findings))
        )
    return redact_model(result)


def render_json(result: ScanResult | Sequence[Finding]) -> str:
    """The CONTRACTS.md shape: `{"findings": [...], "summary": {...}}`."""
    return _as_result(result).model_dump_json(indent=2) + "\n"


def _rule_from_finding(f: Finding) -> RuleMeta:
    return RuleMeta(
        id=f.rule_id,
        category=f.category,
        severity=f.severity,
        title=f.title,
        help=f.message,
        agent=f.agent,
        remediation=f.remediation or "",
        references=tuple(f.references),
    )


def _sarif_rule(meta: RuleMeta) -> dict[str, Any]:
    help_text = meta.help
    md = f"{meta.help}\n\n"
    if meta.remediation:
        help_text += f"\n\nRemediation: {meta.remediation}"
        md += f"**Remediation:** {meta.remediation}\n\n"
    if meta.references:
        help_text += f"\n\nReferences: {', '.join(meta.references)}"
        md += "**References:** " + ", ".join(meta.references) + "\n"
    tags = [t for t in ("security" if meta.agent == "security" else meta.agent, meta.category) if t]
    return {
        "id": meta.id,
        "name": "".join(w.capitalize() for w in meta.title.replace("/", " ").split()) or meta.id,
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.help},
        "help": {"text": help_text, "markdown": md.strip()},
        "defaultConfiguration": {"level": _SARIF_LEVEL[meta.severity]},
        "properties": {
            "tags": tags,
            "category": meta.category,
            "security-severity": _SECURITY_SEVERITY[meta.severity],
            "problem.severity": _SARIF_LEVEL[meta.severity]
            if _SARIF_LEVEL[meta.severity] != "note"
            else "recommendation",
            "precision": "high",
        },
    }


def render_sarif(
    result: ScanResult | Sequence[Finding],
    rules: Iterable[RuleMeta] = (),
    *,
    tool_version: str = "0.1.0",
) -> str:
    """SARIF 2.1.0 with one run: driver rules (with help) and results with locations."""
    res = _as_result(result)
    catalogue: dict[str, RuleMeta] = {}
    for meta in rules:
        catalogue.setdefault(meta.id, meta)
    for f in res.findings:
        catalogue.setdefault(f.rule_id, _rule_from_finding(f))
    ids = sorted(catalogue)
    index = {rid: i for i, rid in enumerate(ids)}
    results = []
    for f in res.findings:
        text = f.message
        if f.evidence:
            text += f" ({f.evidence})"
        if f.resource:
            text = f"{f.resource}: {text}"
        item: dict[str, Any] = {
            "ruleId": f.rule_id,
            "ruleIndex": index[f.rule_id],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": text},
            "partialFingerprints": {"llmgenieFindingId/v1": f.id},
            "properties": {"severity": f.severity.value, "category": f.category, "agent": f.agent},
        }
        if f.resource:
            item["properties"]["resource"] = f.resource
        if f.file:
            physical: dict[str, Any] = {
                "artifactLocation": {"uri": quote(f.file), "uriBaseId": "%SRCROOT%"}
            }
            physical["region"] = {"startLine": max(1, f.line or 1)}
            item["locations"] = [{"physicalLocation": physical}]
        if f.variants:  # one result for the issue in every rendered variant
            item["properties"]["variants"] = list(f.variants)
            related = [
                {
                    "id": i,
                    "physicalLocation": {
                        "artifactLocation": {"uri": quote(loc.file), "uriBaseId": "%SRCROOT%"},
                        "region": {"startLine": max(1, loc.line or 1)},
                    },
                    "message": {"text": f"via {loc.variant}" if loc.variant else loc.file},
                }
                for i, loc in enumerate(f.locations)
            ]
            if related:
                item["relatedLocations"] = related
        results.append(item)
    notifications = [
        {"level": "note", "message": {"text": f"skipped {s.path}: {s.reason}"}}
        for s in res.summary.skipped
    ]
    doc = {
        "$schema": SARIF_SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "llmgenie",
                        "version": tool_version,
                        "informationUri": _INFO_URI,
                        "rules": [_sarif_rule(catalogue[rid]) for rid in ids],
                    }
                },
                "invocations": [
                    {"executionSuccessful": True, "toolExecutionNotifications": notifications}
                ],
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }
    return json.dumps(doc, indent=2) + "\n"


def md_cell(value: object) -> str:
    """A value as one Markdown table cell: pipes escaped, on one line; None is empty."""
    return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def render_markdown(result: ScanResult | Sequence[Finding], *, title: str = "llmgenie scan") -> str:
    """A readable report: counts, then findings grouped by severity, then what was skipped."""
    res = _as_result(result)
    s = res.summary
    lines = [f"# {title}", ""]
    total = len(res.findings)
    lines.append(
        f"{total} finding{'s' if total != 1 else ''} in {s.files_scanned} files scanned"
        + (f"; {s.suppressed} suppressed inline" if s.suppressed else "")
        + "."
    )
    lines.append("")
    if total:
        lines += ["| severity | findings |", "|---|---:|"]
        for sev in _ORDER:
            n = sum(1 for f in res.findings if f.severity is sev)
            if n:
                lines.append(f"| {sev.value} | {n} |")
        lines.append("")
    for sev in _ORDER:
        group = [f for f in res.findings if f.severity is sev]
        if not group:
            continue
        lines += [f"## {sev.value.capitalize()} ({len(group)})", ""]
        for f in group:
            where = f"`{f.location}`" if f.location else ""
            head = f"- **{f.rule_id}** {md_cell(f.title)}"
            if where:
                head += f" — {where}"
            if f.resource:
                head += f" `{f.resource}`"
            lines.append(head)
            if f.evidence:
                lines.append(f"  - Evidence: `{md_cell(f.evidence)}`")
            lines.append(f"  - Why: {md_cell(f.message)}")
            if f.remediation:
                lines.append(f"  - Fix: {md_cell(f.remediation)}")
            if f.references:
                lines.append(f"  - See: {md_cell(', '.join(f.references))}")
        lines.append("")
    if s.skipped:
        lines += [f"## Skipped ({len(s.skipped)})", ""]
        lines += [f"- `{sk.path}`: {md_cell(sk.reason)}" for sk in s.skipped]
        lines.append("")
    if s.notes:
        lines += ["## Notes", ""]
        lines += [f"- {md_cell(n)}" for n in s.notes]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def render(
    result: ScanResult | Sequence[Finding],
    fmt: str,
    rules: Iterable[RuleMeta] = (),
    *,
    tool_version: str = "0.1.0",
) -> str:
    """Render in one of `FORMATS`; ValueError for any other."""
    if fmt == "json":
        return render_json(result)
    if fmt == "sarif":
        return render_sarif(result, rules, tool_version=tool_version)
    if fmt == "markdown":
        return render_markdown(result)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def sarif_schema() -> dict[str, Any]:
    """The shipped SARIF 2.1.0 JSON schema."""
    text = resources.files("llmgenie.core.schemas").joinpath("sarif-schema-2.1.0.json").read_text()
    return json.loads(text)


def human_size(n: int) -> str:
    """`532 bytes`, `1.4 MB`: a size as people read it in one-line messages."""
    return f"{n} bytes" if n < 1_000_000 else f"{n / 1e6:.1f} MB"


# -- task reports -------------------------------------------------------------------------
def render_report_sarif(report: TaskReport) -> str:
    """SARIF 2.1.0, the same document as `llmgenie scan --format sarif` renders."""
    result = ScanResult(findings=report.findings, summary=ScanSummary(skipped=report.skipped))
    return render_sarif(result)


def render_report_markdown(report: TaskReport) -> str:
    """A task report as Markdown: header, steps, findings table, notes; secrets redacted."""
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
    return redact("\n".join(out) + "\n")


def _notes_beyond_summary(step: AgentReport) -> list[str]:
    """The step's notes its summary does not already say: a tool-only summary ends with the
    toolset's notes, and the report would otherwise print each of them twice."""
    said = set((step.summary or "").splitlines())
    return [n for n in step.notes if n not in said]


def render_step_markdown(step: AgentReport, *, max_findings: int = 500) -> str:
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
