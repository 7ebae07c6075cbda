"""`llmgenie artifacts sync | list`: the artifact store and its spool of pending uploads."""

from __future__ import annotations

import typer

from llmgenie.interfaces.cli._store import cli_store, no_such_task
from llmgenie.interfaces.cli.errors import EXIT_FINDINGS, UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["artifacts_app"]

artifacts_app = typer.Typer(help="Stored report files and pending uploads.", no_args_is_help=True)
app.add_typer(artifacts_app, name="artifacts")


@artifacts_app.command("sync")
def sync() -> None:
    """Store reports spooled while the metadata database was down, upload artifacts spooled
    while the artifact store was down; exit 1 if some remain."""
    from sqlalchemy.exc import DBAPIError

    from llmgenie.core.storage.db import db_error_line

    store = cli_store()
    waiting = store.pending_reports()
    try:
        stored = store.sync_reports() if waiting else 0
    except DBAPIError as exc:
        raise UserError(
            f"the metadata database did not take the spooled reports: {db_error_line(exc)}"
        ) from None
    pending = store.pending_count()
    uploaded = store.sync_pending() if pending else 0
    left = store.pending_count() + store.pending_reports()
    if waiting:
        typer.echo(f"stored {stored} of {waiting} spooled reports")
    typer.echo(f"uploaded {uploaded} of {pending} pending artifacts; {left} still pending")
    if left:
        raise typer.Exit(EXIT_FINDINGS)


@artifacts_app.command("list")
def list_artifacts(task_id: str = typer.Argument(..., help="task id or a prefix of it")) -> None:
    """List a task's stored files with their sha256 and size."""
    from llmgenie.core.storage import AmbiguousTaskIdError

    store = cli_store()
    try:
        full = store.resolve_task_id(task_id)
    except AmbiguousTaskIdError as exc:
        raise UserError(str(exc)) from None
    if full is None:
        raise no_such_task(store, task_id)
    for ref in store.artifacts(full):
        flag = "  (pending upload)" if ref.pending_upload else ""
        typer.echo(f"{ref.sha256}  {ref.size:>10}  {ref.url}{flag}")
