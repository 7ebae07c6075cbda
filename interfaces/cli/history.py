"""`llmgenie runs list | show | prune`: earlier tasks, their reports, what changed since the last
one, and removing those that ended long ago."""

from __future__ import annotations

import json
from typing import Literal

import typer

from llmgenie.flows.service import MAX_LIST_LIMIT, TaskService
from llmgenie.interfaces.cli._store import cli_store, no_such_task
from llmgenie.interfaces.cli.errors import EXIT_FINDINGS, UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["runs_app"]

runs_app = typer.Typer(help="Earlier tasks and their reports.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")

_SEVERITIES = ("critical", "high", "medium", "low", "info")


@runs_app.command("list")
def list_runs(
    limit: int = typer.Option(20, help=f"how many recent tasks (1 to {MAX_LIST_LIMIT})"),
    fmt: Literal["text", "json"] = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Recent tasks: id, when, target, status, findings by severity."""
    rows = TaskService(roots=None).list_tasks(limit, cli_store())
    if fmt == "json":
        payload = [
            {
                **r.model_dump(mode="json"),
                "created_at": r.created_at.isoformat(),
                "finished_at": r.finished_at.isoformat() if r.finished_at else None,
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
            r.task_id[:12],
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.target,
            status,
            counts or str(r.findings),
        )
    Console(width=200).print(table)


@runs_app.command("show")
def show(
    task_id: str = typer.Argument(..., help="task id or a prefix of it"),
    fmt: Literal["md", "json"] = typer.Option("md", "--format", help="md or json"),
) -> None:
    """One task's stored report (the same JSON `llmgenie run --format json` printed)."""
    from llmgenie.core.render import render_report_markdown

    store = cli_store()
    report = TaskService(roots=None).get_task(task_id, store)
    if report is None:
        raise no_such_task(store, task_id)
    if fmt == "json":
        typer.echo(report.model_dump_json(indent=2))
        return
    typer.echo(render_report_markdown(report), nl=False)
    drift = store.drift(report)
    if drift is not None:
        typer.echo(f"\nDrift {drift.summary_line()}")


@runs_app.command("prune")
def prune(
    older_than: str = typer.Option(
        ...,
        "--older-than",
        help="remove tasks that ended longer ago than this: 90m, 12h, 30d or 2w",
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="say what would go; remove nothing"),
    fmt: Literal["text", "json"] = typer.Option("text", "--format", help="text or json"),
) -> None:
    """Remove tasks that ended long ago: their rows and stored files. The audit log stays whole.

    Running tasks, tasks whose files still wait to be uploaded and tasks whose files are not in
    the artifact store set now are kept. Exit 1 if a task that was due stays (the line says
    why).
    """
    from llmgenie.core.models import utcnow
    from llmgenie.core.render import human_size
    from llmgenie.core.storage.retention import parse_age
    from llmgenie.core.storage.retention import prune as prune_tasks

    try:
        age = parse_age(older_than)
    except ValueError as exc:
        raise UserError(f"--older-than: {exc}") from None
    before = utcnow() - age
    result = prune_tasks(cli_store(), before, dry_run=dry_run)
    if fmt == "json":
        payload = {
            "before": result.before.isoformat(),
            "dry_run": result.dry_run,
            "pruned": [
                {
                    "task_id": t.id,
                    "status": t.status,
                    "ended_at": t.ended_at.isoformat(),
                    "files": t.files,
                    "bytes": t.bytes,
                }
                for t in result.pruned
            ],
            "kept": [{"task_id": k, "reason": why} for k, why in result.kept.items()],
        }
        typer.echo(json.dumps(payload, indent=2))
    else:
        verb = "would remove" if dry_run else "removed"
        typer.echo(
            f"{verb} {_count(len(result.pruned), 'task')} ({_count(result.files, 'file')}, "
            f"{human_size(result.bytes)}) "
            f"that ended before {result.before:%Y-%m-%d %H:%M} UTC"
            + (
                ""
                if dry_run or not result.pruned
                else "; the audit log keeps "
                + ("its" if len(result.pruned) == 1 else "their")
                + " events"
            )
        )
        if dry_run:
            for t in result.pruned:
                typer.echo(f"  {t.id[:12]}  {t.ended_at:%Y-%m-%d %H:%M}  {t.status}")
        for task_id, why in result.kept.items():
            typer.echo(f"kept {task_id[:12]}: {why}")
    if result.kept:
        raise typer.Exit(EXIT_FINDINGS)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
