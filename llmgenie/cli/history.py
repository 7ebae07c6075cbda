"""`llmgenie runs list | show`: earlier tasks, their reports and what changed since the last one."""

from __future__ import annotations

import json
from typing import Literal

import typer

from llmgenie.cli._store import cli_store
from llmgenie.cli.errors import UserError
from llmgenie.cli.main import app

__all__ = ["runs_app"]

runs_app = typer.Typer(help="Earlier tasks and their reports.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

_SEVERITIES = ("critical", "high", "medium", "low", "info")


@runs_app.command("list")
def list_runs(
    limit: int = typer.Option(20, min=1, help="how many recent tasks"),
    fmt: Literal["text", "json"] = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Recent tasks: id, when, target, status, findings by severity."""
    rows = cli_store().list_tasks(limit=limit)
    if fmt == "json":
        payload = [
            {
                "task_id": r.id,
                "task": r.task,
                "target": r.target,
                "status": r.status.value,
                "created_at": r.created_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                "by_severity": r.by_severity,
                "findings": r.finding_count,
                "pending_uploads": r.pending_uploads,
            }
            for r in rows
        ]
        typer.echo(json.dumps(payload, indent=2))
        return
    if not rows:
        typer.echo("no tasks yet")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for col in ("id", "when (UTC)", "target", "status", "findings"):
        table.add_column(col)
    for r in rows:
        counts = " ".join(
            f"{s[0].upper()}:{r.by_severity[s]}" for s in _SEVERITIES if r.by_severity.get(s)
        )
        status = r.status.value + (" (uploads pending)" if r.pending_uploads else "")
        table.add_row(
            r.id[:12],
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.target,
            status,
            counts or str(r.finding_count),
        )
    Console(width=200).print(table)


@runs_app.command("show")
def show(
    task_id: str = typer.Argument(..., help="task id or a prefix of it"),
    fmt: Literal["md", "json"] = typer.Option("md", "--format", help="md or json"),
) -> None:
    """One task's stored report (the same JSON `llmgenie run --format json` printed)."""
    from llmgenie.core.storage import AmbiguousTaskIdError
    from llmgenie.core.storage.reports import markdown

    store = cli_store()
    try:
        report = store.get_report(task_id)
    except AmbiguousTaskIdError as exc:
        raise UserError(str(exc)) from None
    if report is None:
        raise UserError(f"no task with id {task_id!r} (see `llmgenie runs list`)")
    if fmt == "json":
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(markdown(report), nl=False)
    drift = store.drift(report)
    if drift is not None:
        typer.echo(f"\nDrift {drift.summary_line()}")
