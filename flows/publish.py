"""Prefect artifacts for a task and its steps, so the Prefect UI shows the result.

A specialist subflow publishes its step (Markdown with its findings table) on its own flow run;
the BOSS flow publishes the task report, the findings table, links to the stored reports and a
list of the steps' stored files (presigned links for S3). Publishing never fails the flow: a
problem is logged and the run goes on.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from typing import Any

from prefect.artifacts import (
    acreate_link_artifact,
    acreate_markdown_artifact,
    acreate_table_artifact,
)

from llmgenie.core.inert_markdown import inert_markdown
from llmgenie.core.models import AgentReport, ArtifactRef, TaskReport
from llmgenie.core.redact import redact_data
from llmgenie.core.render import (
    findings_rows,
    md_cell,
    render_report_markdown,
    render_step_markdown,
)
from llmgenie.flows.threads import run_blocking

__all__ = [
    "MAX_TABLE_ROWS",
    "apublish_step_artifacts",
    "apublish_task_files",
    "apublish_task_report",
]

_log = logging.getLogger("llmgenie.flows.publish")

#: Bigger tables stay in report.json; the UI table shows the worst findings first.
MAX_TABLE_ROWS = 1000
_KEY_CHARS = re.compile(r"[^a-z0-9-]+")
_LINK_KEYS = {
    "report.md": "report-md",
    "report.json": "report-json",
    "report.sarif": "report-sarif",
}


def _key(text: str) -> str:
    """Prefect artifact keys: lowercase letters, digits and dashes."""
    return _KEY_CHARS.sub("-", text.lower()).strip("-")[:100] or "llmgenie"


def _table_description(n: int, what: str) -> str:
    if n > MAX_TABLE_ROWS:
        return f"{what}: the {MAX_TABLE_ROWS} most severe of {n} findings (all in report.json)"
    return f"{what}: {n} findings"


def _step_calls(report: AgentReport) -> list[tuple[str, dict[str, Any]]]:
    # One artifact per step: its Markdown carries the findings table too. A second (table)
    # artifact per step cost ~30 ms of API time on every step; BOSS publishes the task's table.
    name = _key(f"llmgenie-{report.id}")
    return [
        (
            "markdown",
            {
                "markdown": render_step_markdown(report, max_findings=MAX_TABLE_ROWS),
                "key": f"{name}-report",
                "description": f"{report.agent} step {report.id}: {report.status.value}",
            },
        ),
    ]


def _stored(report: TaskReport) -> list[tuple[ArtifactRef, dict[str, str]]]:
    """Each stored file of the task with its link (presigned for S3), text and description."""
    from llmgenie.core.storage import open_store

    store = None
    files = []
    for ref in report.artifacts:
        url = ref.url
        if url.startswith("s3://") and not ref.pending_upload:
            try:
                store = store or open_store()
                url = store.presign(ref, report.task_id)
            except Exception as exc:
                _log.warning("no presigned link for %s: %s", ref.url, exc)
        where = f"{ref.step_id}/" if ref.step_id else ""
        pending = " (upload pending)" if ref.pending_upload else ""
        files.append(
            (
                ref,
                {
                    "link": url,
                    "link_text": f"{where}{ref.name}",
                    "description": (
                        f"sha256 {ref.sha256}, {ref.size} bytes{pending}; stored at {ref.url}"
                    ),
                },
            )
        )
    return files


def _files_markdown(files: list[dict[str, str]]) -> str:
    rows = [
        f"| [{_link_text(f['link_text'])}]({f['link']}) | {md_cell(f['description'])} |"
        for f in files
    ]
    return "\n".join(["# stored files", "", "| file | stored |", "|---|---|", *rows])


def _link_text(text: str) -> str:
    return md_cell(text).replace("[", "\\[").replace("]", "\\]")


def _report_calls(report: TaskReport) -> list[tuple[str, dict[str, Any]]]:
    """The report and its findings table. Neither lists a stored file, so they can be
    published while the files are being stored."""
    return [
        (
            "markdown",
            {
                "markdown": render_report_markdown(report),
                "key": "llmgenie-task-report",
                "description": f"{report.task} on {report.target}: {report.status.value}",
            },
        ),
        (
            "table",
            {
                "table": findings_rows(report.findings, MAX_TABLE_ROWS),
                "key": "llmgenie-task-findings",
                "description": _table_description(len(report.findings), f"task {report.task_id}"),
            },
        ),
    ]


def _file_calls(report: TaskReport) -> list[tuple[str, dict[str, Any]]]:
    """One link per task-level file (keyed: the UI keeps the latest of each), and one Markdown
    list of the steps' files: an API call per artifact sits at the end of every run, so step
    files share one."""
    calls: list[tuple[str, dict[str, Any]]] = []
    step_files = []
    for ref, link in _stored(report):
        if ref.step_id:
            step_files.append(link)
        else:
            calls.append(("link", {**link, "key": _LINK_KEYS.get(ref.name)}))
    if step_files:
        calls.append(
            (
                "markdown",
                {
                    "markdown": _files_markdown(step_files),
                    "key": "llmgenie-step-files",
                    "description": f"{len(step_files)} files the steps stored",
                },
            )
        )
    return calls


_ASYNC = {
    "markdown": acreate_markdown_artifact,
    "table": acreate_table_artifact,
    "link": acreate_link_artifact,
}


async def _apublish(calls: list[tuple[str, dict[str, Any]]]) -> None:
    # Concurrently: each artifact is one API call, and they sit on the step's critical path.
    async def one(kind: str, kwargs: dict[str, Any]) -> None:
        kwargs = redact_data(kwargs)  # what the Prefect API stores carries no target secret
        if kind == "markdown":  # target and model text must not become HTML in the UI
            # a CommonMark parse: milliseconds to tens of them, not on the loop the steps share
            kwargs = {**kwargs, "markdown": await run_blocking(inert_markdown, kwargs["markdown"])}
        try:
            await _ASYNC[kind](**kwargs)
        except Exception as exc:
            _log.warning("Prefect %s artifact not published: %s", kind, exc)

    await asyncio.gather(*(one(kind, kwargs) for kind, kwargs in calls))


async def apublish_step_artifacts(report: AgentReport) -> None:
    """On the current (specialist) flow run: the step as Markdown, its findings table inside."""
    await _apublish(_step_calls(report))


async def apublish_task_report(report: TaskReport) -> None:
    """On the current (BOSS) flow run: the report as Markdown and its findings table."""
    await _apublish_built(_report_calls, report)


async def apublish_task_files(report: TaskReport) -> None:
    """On the current (BOSS) flow run: links to the task's stored files (presigned for S3)."""
    await _apublish_built(_file_calls, report)


async def _apublish_built(
    build: Callable[[TaskReport], list[tuple[str, dict[str, Any]]]], report: TaskReport
) -> None:
    try:
        calls = build(report)
    except Exception as exc:
        _log.warning("Prefect task artifacts not published: %s", exc)
        return
    await _apublish(calls)
