"""The MCP server: llmgenie's tools for Cursor, VS Code and any other MCP client, over stdio.

The editor starts `llmgenie mcp` and its agent calls these tools:

* `scan` — the toolsets alone over a path (as `llmgenie scan`): seconds, no model, no Prefect;
* `run_task` — BOSS plans and runs the specialists as Prefect flows (as `llmgenie run`) and
  the tool returns when the task ends;
* `list_tasks`, `get_task` — earlier tasks and their stored reports;
* `ask` — a question answered from the knowledge base, with citations;
* `explain_rule` — what a rule checks, why it matters and how to fix it.

Thin: each tool calls the task service the CLI and the REST API call (`llmgenie.flows.service`),
which checks its input, and answers in a few lines sized for a model's context by default
(counts, the most severe findings one line each, where the full report is); with
`detail="full"` the answer also carries the structure (`structuredContent`), still capped at
`max_findings` (decision 0032). The tools that change nothing say so (`readOnlyHint`). A
wrong input is a tool error in one line, never a traceback. Targets, of tasks, scans and
questions alike, lie under `LLMGENIE_TARGET_ROOTS`, by default the folder the server was
started in.

stdout is the protocol. Nothing else may write to it: the protocol keeps its own copies of the
client's stdin and stdout, and file descriptors 0 and 1 of the process become /dev/null and
stderr, so a library's print or a subprocess (`kubectl`, `helm`) cannot corrupt a message.
stderr carries warnings and up only, unless LLMGENIE_LOG_LEVEL asks for more.
"""

from __future__ import annotations

import asyncio
import os
import sys
from io import TextIOWrapper
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from llmgenie.core.models import (
    AGENT_NAMES,
    Answer,
    ArtifactRef,
    Finding,
    Mode,
    ReportSummary,
    Role,
    ScanResult,
    StepStatus,
    TaskReport,
    TaskStatus,
)
from llmgenie.core.settings import get_settings
from llmgenie.flows.service import MAX_LIST_LIMIT, Refused, TargetRoots, TaskLine, TaskService

__all__ = ["StepDigest", "TaskDigest", "build_server", "serve_stdio"]

INSTRUCTIONS = """llmgenie audits infrastructure code: Kubernetes manifests, Helm charts, Kustomize,
Dockerfiles, compose files, Terraform and dependency pins. Use `scan` for a fast list of
findings (security policy, secrets, resources, probes) over a folder or file; use `run_task`
when the user wants the specialists' full work (inventory, remediation patches, service
catalogue and runbooks, a model's narrative when one is configured). Findings carry a rule id:
`explain_rule` says what it checks and how to fix it. `ask` answers questions about a service
(how to deploy or roll it back, what is wrong with it) from what earlier tasks learnt."""

#: findings listed by default, one line each; the counts cover all of them
DEFAULT_MAX_FINDINGS = 10
#: `summary`: a few lines of text; `full`: the text and the structure
Detail = Annotated[
    Literal["summary", "full"],
    Field(description="summary: a few lines; full: also the structure (structuredContent)"),
]
MaxFindings = Annotated[
    int, Field(ge=0, le=1000, description="list at most this many, most severe first")
]
#: the tools that change nothing: scan, list_tasks, get_task, ask, explain_rule
READ_ONLY = ToolAnnotations(readOnlyHint=True, openWorldHint=False)


class StepDigest(BaseModel):
    id: str
    agent: str
    status: StepStatus
    mode: Mode | None = None
    model: str | None = Field(None, description="the model that wrote the step, if one did")
    findings: int = Field(description="how many findings the step reported")
    summary: str = ""
    error: str | None = None


class _TaskList(BaseModel):
    result: list[TaskLine]


class TaskDigest(BaseModel):
    """A task's report, sized for a model's context: `findings` holds the most severe ones."""

    task_id: str
    task: str
    target: str
    status: TaskStatus
    summary: ReportSummary
    steps: list[StepDigest]
    findings: list[Finding]
    findings_total: int
    artifacts: list[ArtifactRef] = Field(
        default_factory=list, description="the stored report (md, json, sarif) and step files"
    )


def _most_severe(findings: list[Finding], limit: int) -> list[Finding]:
    """The `limit` most severe findings, in the order found within a severity."""
    return sorted(findings, key=lambda f: -f.severity.rank)[: max(limit, 0)]


def _digest(report: TaskReport, max_findings: int) -> TaskDigest:
    return TaskDigest(
        task_id=report.task_id,
        task=report.task,
        target=report.target,
        status=report.status,
        summary=report.summary,
        steps=[
            StepDigest(
                id=s.id,
                agent=s.agent,
                status=s.status,
                mode=s.mode,
                model=s.model,
                findings=len(s.findings),
                summary=s.summary,
                error=s.error,
            )
            for s in report.steps
        ],
        findings=_most_severe(report.findings, max_findings),
        findings_total=len(report.findings),
        artifacts=report.artifacts,
    )


def _counts(by_severity: dict[str, int]) -> str:
    total = sum(by_severity.values())
    return f"{total} findings" + (
        f" ({', '.join(f'{n} {sev}' for sev, n in by_severity.items())})" if total else ""
    )


def _finding_lines(findings: list[Finding], total: int) -> list[str]:
    if not findings:
        return []
    lines = [f"most severe ({len(findings)} of {total}):"]
    for f in findings:
        where = f.location or f.resource or "-"
        lines.append(f"- {f.severity.value} {f.rule_id} {where}: {' '.join(f.title.split())}")
    return lines


def _answer(text: list[str], detail: str, structure: BaseModel) -> CallToolResult:
    """The tool's answer: `text` alone, or with the structure when `detail` is full."""
    content = [TextContent(type="text", text="\n".join(text))]
    if detail != "full":
        return CallToolResult(content=content)
    return CallToolResult(content=content, structuredContent=structure.model_dump(mode="json"))


def _report_text(digest: TaskDigest) -> list[str]:
    steps = "; ".join(
        f"{s.id} {s.status.value}" + (f" ({s.mode.value})" if s.mode else "") for s in digest.steps
    )
    lines = [
        f"task {digest.task_id} {digest.status.value}: {digest.task!r} on {digest.target}",
        f"{_counts(digest.summary.by_severity)}; steps: {steps}",
        *_finding_lines(digest.findings, digest.findings_total),
        *[f"error in {s.id}: {s.error}" for s in digest.steps if s.error],
    ]
    reports = [a for a in digest.artifacts if a.step_id is None] or digest.artifacts
    lines += [f"report: {a.url}" for a in reports[:3]]
    lines.append(f'full structure: get_task("{digest.task_id}", detail="full")')
    return lines


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500] or type(exc).__name__


async def _in_thread(call: Any, *args: Any) -> Any:
    """A blocking call of the layers below, off the loop; its faults become one-line errors."""
    try:
        return await asyncio.to_thread(call, *args)
    except (Refused, ValueError, LookupError) as exc:
        raise ToolError(_one_line(exc)) from None
    except Exception as exc:
        raise ToolError(f"{type(exc).__name__}: {_one_line(exc)}") from None


def build_server(role: Role = Role.operator, roots: TargetRoots | None = None) -> FastMCP:
    """The MCP server and its tools; tasks run with `role`, as the caller `mcp`, over targets
    under `roots` (default: LLMGENIE_TARGET_ROOTS, else the folder the server started in)."""
    settings = get_settings()
    service = TaskService(roots or TargetRoots.of(settings, default=Path.cwd()))
    level = settings.log_level.upper()
    server = _StdioServer(
        name="llmgenie",
        instructions=INSTRUCTIONS,
        # FastMCP sets the root logger's level: INFO would let every HTTP request to the
        # Prefect API (httpx, uvicorn) and every MCP request onto stderr
        log_level=level if level in ("DEBUG", "INFO", "ERROR", "CRITICAL") else "WARNING",
    )
    prefect_ready = asyncio.Lock()
    started: list[str] = []  # the Prefect API, once the first task needs it

    @server.tool(title="Scan infrastructure code", annotations=READ_ONLY)
    async def scan(
        path: Annotated[str, Field(description="folder, file or .tar.gz/.zip archive to scan")],
        agents: Annotated[
            list[str] | None,
            Field(description=f"only these toolsets: {', '.join(AGENT_NAMES)}; default all"),
        ] = None,
        max_findings: MaxFindings = DEFAULT_MAX_FINDINGS,
        detail: Detail = "summary",
    ) -> CallToolResult:
        """Run llmgenie's rules over a path, with no orchestration and no model: Kubernetes and
        Dockerfile policy, secrets, Terraform, resources and probes, dependency pins. Findings
        come most severe first; the counts cover them all."""
        result: ScanResult = await _in_thread(service.scan, path, agents)
        shown = _most_severe(result.findings, max_findings)
        text = [
            f"{_counts(result.summary.by_severity)} in {result.summary.files_scanned} files",
            *_finding_lines(shown, len(result.findings)),
            *result.summary.notes[:3],
        ]
        return _answer(text, detail, result.model_copy(update={"findings": shown}))

    @server.tool(
        title="Run a task with the specialists",
        annotations=ToolAnnotations(readOnlyHint=False, destructiveHint=False, openWorldHint=False),
    )
    async def run_task(
        task: Annotated[
            str,
            Field(min_length=1, max_length=4000, description="what to do, in plain words"),
        ],
        target: Annotated[
            str, Field(min_length=1, max_length=4096, description="folder, file, archive, s3://")
        ],
        agents: Annotated[
            list[str] | None,
            Field(
                description=f"only these specialists: {', '.join(AGENT_NAMES)}; default: "
                "BOSS decides"
            ),
        ] = None,
        max_findings: MaxFindings = DEFAULT_MAX_FINDINGS,
        detail: Detail = "summary",
    ) -> CallToolResult:
        """BOSS analyses the target, plans the work and runs the DevOps, Security, Performance
        and Documentation specialists as Prefect flows; returns when the task ends (seconds
        without a model). The full report is stored: `get_task` reads it again."""
        checked = await _in_thread(service.check, task, target, agents, role, "mcp")
        async with prefect_ready:
            if not started:
                from llmgenie.flows.runtime import ensure_prefect_api

                started.append(await _in_thread(ensure_prefect_api, get_settings()))
        report: TaskReport = await service.run(checked)
        digest = _digest(report, max_findings)
        return _answer(_report_text(digest), detail, digest)

    @server.tool(title="List earlier tasks", annotations=READ_ONLY)
    async def list_tasks(
        limit: Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT, description="newest first")] = 20,
        detail: Detail = "summary",
    ) -> CallToolResult:
        """Earlier llmgenie tasks, newest first, with their findings counted by severity."""
        tasks: list[TaskLine] = await _in_thread(service.list_tasks, limit)
        text = [
            f"{t.task_id} {t.status.value} {t.created_at.isoformat(timespec='minutes')} "
            f"{t.task!r} on {t.target}: {_counts(t.by_severity)}"
            for t in tasks
        ] or ["no tasks yet"]
        return _answer(text, detail, _TaskList(result=tasks))

    @server.tool(title="Read a task's report", annotations=READ_ONLY)
    async def get_task(
        task_id: Annotated[str, Field(min_length=4, description="a task id, or its first chars")],
        max_findings: MaxFindings = DEFAULT_MAX_FINDINGS,
        detail: Detail = "summary",
    ) -> CallToolResult:
        """The stored report of an earlier task: its steps, the most severe findings, and where
        the full report files are."""
        report = await _in_thread(service.get_task, task_id)
        if report is None:
            raise ToolError(f"no task {task_id!r} (list_tasks shows the ids)")
        digest = _digest(report, max_findings)
        return _answer(_report_text(digest), detail, digest)

    @server.tool(title="Ask the knowledge base", annotations=READ_ONLY)
    async def ask(
        question: Annotated[str, Field(min_length=1, max_length=2000)],
        target: Annotated[
            str | None,
            Field(description="the target to ask about: a folder or s3:// prefix tasks ran on"),
        ] = None,
        top: Annotated[int, Field(ge=1, le=50, description="passages to answer from")] = 5,
        detail: Detail = "summary",
    ) -> CallToolResult:
        """Answer a question about a service from what earlier tasks taught the knowledge base
        (the target's docs, the runbooks and catalogue Documentation wrote, the findings), with
        numbered citations. A model writes the answer when one is configured; otherwise the
        answer is the closest passages, and says so."""
        answer: Answer = await _in_thread(service.ask, question, target, top)
        text = [
            answer.answer,
            *[
                f"[{c.n}] {c.passage.source}"
                + (f" — {c.passage.title}" if c.passage.title else "")
                + (f" (task {c.passage.task_id})" if c.passage.task_id else "")
                for c in answer.citations
            ],
            *answer.notes,
        ]
        return _answer(text, detail, answer)

    @server.tool(title="Explain a rule", annotations=READ_ONLY)
    async def explain_rule(
        rule_id: Annotated[str, Field(description="e.g. LG-K8S-001, as findings name it")],
    ) -> dict[str, Any]:
        """What an llmgenie rule checks, why it matters, how to fix what it finds, and the
        equivalent checks of other scanners (checkov, kube-score, hadolint, CIS)."""
        from llmgenie.agents.tools.catalog import rule_catalog

        rules = {r.id: r for r in await _in_thread(rule_catalog)}
        rule = rules.get(rule_id.strip().upper())
        if rule is None:
            raise ToolError(f"no rule {rule_id!r}; rule ids look like LG-K8S-001")
        return {
            "id": rule.id,
            "category": rule.category,
            "severity": rule.severity.value,
            "agent": rule.agent,
            "title": rule.title,
            "why": rule.help,
            "remediation": rule.remediation,
            "references": list(rule.references),
        }

    return server


class _StdioServer(FastMCP):
    """FastMCP whose stdio transport speaks over the streams it is given (`serve_stdio`), and
    that tells clients llmgenie's version (FastMCP's default is the MCP SDK's)."""

    protocol_in: BinaryIO | None = None
    protocol_out: BinaryIO | None = None

    def __init__(self, **kwargs: Any) -> None:
        from importlib.metadata import version

        super().__init__(**kwargs)
        self._mcp_server.version = version("llmgenie")

    async def run_stdio_async(self) -> None:
        stdin = stdout = None
        if self.protocol_in is not None and self.protocol_out is not None:
            stdin = anyio.wrap_file(
                TextIOWrapper(self.protocol_in, encoding="utf-8", errors="replace")
            )
            stdout = anyio.wrap_file(TextIOWrapper(self.protocol_out, encoding="utf-8"))
        async with stdio_server(stdin=stdin, stdout=stdout) as (read, write):
            await self._mcp_server.run(
                read, write, self._mcp_server.create_initialization_options()
            )


def serve_stdio(server: FastMCP) -> None:
    """Serve `server` on this process's stdin and stdout, which nothing else may then use."""
    sys.stdout.flush()
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray write to fd 1, by us, a library or a subprocess, goes to stderr
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # and nothing else reads the client's messages
    os.close(null)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull)  # noqa: SIM115  (the process's stdin until it exits)
    if isinstance(server, _StdioServer):
        server.protocol_in, server.protocol_out = protocol_in, protocol_out
    server.run("stdio")
