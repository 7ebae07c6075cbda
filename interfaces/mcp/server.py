"""The MCP server: llmgenie's tools for Cursor, VS Code and any other MCP client, over stdio.

The editor starts `llmgenie mcp` and its agent calls these tools:

* `scan` — the toolsets alone over a path (as `llmgenie scan`): seconds, no model, no Prefect;
* `run_task` — BOSS plans and runs the specialists as Prefect flows (as `llmgenie run`) and
  the tool returns when the task ends;
* `list_tasks`, `get_task` — earlier tasks and their stored reports;
* `ask` — a question answered from the knowledge base, with citations;
* `explain_rule` — what a rule checks, why it matters and how to fix it.

Thin: each tool calls the task service the CLI and the REST API call (`llmgenie.flows.service`),
which checks its input, and returns a digest sized for a model's context (the most severe
findings first; the full report stays in the store and the artifact files). A wrong input is a
tool error in one line, never a traceback. Targets, of tasks, scans and questions alike, lie
under `LLMGENIE_TARGET_ROOTS`, by default the folder the server was started in.

stdout is the protocol. Nothing else may write to it: the protocol keeps its own copies of the
client's stdin and stdout, and file descriptors 0 and 1 of the process become /dev/null and
stderr, so a library's print or a subprocess (`kubectl`, `helm`) cannot corrupt a message.
"""

from __future__ import annotations

import asyncio
import os
import sys
from io import TextIOWrapper
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import anyio
from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.server.stdio import stdio_server
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

#: findings returned by default; the summary counts all of them
DEFAULT_MAX_FINDINGS = 50


class StepDigest(BaseModel):
    id: str
    agent: str
    status: StepStatus
    mode: Mode | None = None
    model: str | None = Field(None, description="the model that wrote the step, if one did")
    findings: int = Field(description="how many findings the step reported")
    summary: str = ""
    error: str | None = None


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
    service = TaskService(roots or TargetRoots.of(get_settings(), default=Path.cwd()))
    server = _StdioServer(name="llmgenie", instructions=INSTRUCTIONS)
    prefect_ready = asyncio.Lock()
    started: list[str] = []  # the Prefect API, once the first task needs it

    @server.tool(title="Scan infrastructure code")
    async def scan(
        path: Annotated[str, Field(description="folder, file or .tar.gz/.zip archive to scan")],
        agents: Annotated[
            list[str] | None,
            Field(description=f"only these toolsets: {', '.join(AGENT_NAMES)}; default all"),
        ] = None,
        max_findings: Annotated[
            int, Field(ge=0, le=1000, description="return at most this many, most severe first")
        ] = DEFAULT_MAX_FINDINGS,
    ) -> ScanResult:
        """Run llmgenie's rules over a path, with no orchestration and no model: Kubernetes and
        Dockerfile policy, secrets, Terraform, resources and probes, dependency pins. Findings
        come most severe first; the summary counts them all."""
        result: ScanResult = await _in_thread(service.scan, path, agents)
        return result.model_copy(update={"findings": _most_severe(result.findings, max_findings)})

    @server.tool(title="Run a task with the specialists")
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
        max_findings: Annotated[int, Field(ge=0, le=1000)] = DEFAULT_MAX_FINDINGS,
    ) -> TaskDigest:
        """BOSS analyses the target, plans the work and runs the DevOps, Security, Performance
        and Documentation specialists as Prefect flows; returns when the task ends (seconds
        without a model). The full report is stored: `get_task` reads it again."""
        checked = await _in_thread(service.check, task, target, agents, role, "mcp")
        async with prefect_ready:
            if not started:
                from llmgenie.flows.runtime import ensure_prefect_api

                started.append(await _in_thread(ensure_prefect_api, get_settings()))
        report: TaskReport = await service.run(checked)
        return _digest(report, max_findings)

    @server.tool(title="List earlier tasks")
    async def list_tasks(
        limit: Annotated[int, Field(ge=1, le=MAX_LIST_LIMIT, description="newest first")] = 20,
    ) -> list[TaskLine]:
        """Earlier llmgenie tasks, newest first, with their findings counted by severity."""
        return await _in_thread(service.list_tasks, limit)

    @server.tool(title="Read a task's report")
    async def get_task(
        task_id: Annotated[str, Field(min_length=4, description="a task id, or its first chars")],
        max_findings: Annotated[int, Field(ge=0, le=1000)] = DEFAULT_MAX_FINDINGS,
    ) -> TaskDigest:
        """The stored report of an earlier task: its steps, the most severe findings, and where
        the full report files are."""
        report = await _in_thread(service.get_task, task_id)
        if report is None:
            raise ToolError(f"no task {task_id!r} (list_tasks shows the ids)")
        return _digest(report, max_findings)

    @server.tool(title="Ask the knowledge base")
    async def ask(
        question: Annotated[str, Field(min_length=1, max_length=2000)],
        target: Annotated[
            str | None,
            Field(description="the target to ask about: a folder or s3:// prefix tasks ran on"),
        ] = None,
        top: Annotated[int, Field(ge=1, le=50, description="passages to answer from")] = 5,
    ) -> Answer:
        """Answer a question about a service from what earlier tasks taught the knowledge base
        (the target's docs, the runbooks and catalogue Documentation wrote, the findings), with
        numbered citations. A model writes the answer when one is configured; otherwise the
        answer is the closest passages, and says so."""
        return await _in_thread(service.ask, question, target, top)

    @server.tool(title="Explain a rule")
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
