"""`llmgenie audit verify | export`: the tamper-evident audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from llmgenie.interfaces.cli._store import cli_store
from llmgenie.interfaces.cli.errors import EXIT_FINDINGS, UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The audit log of every agent action.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify() -> None:
    """Walk the hash chain; exit 1 at the first broken link, naming it."""
    from llmgenie.core import audit

    result = audit.verify(cli_store())
    if not result.ok:
        typer.echo(f"audit log BROKEN at event #{result.broken_at}: {result.reason}", err=True)
        typer.echo(f"{result.checked} events verified before the break", err=True)
        raise typer.Exit(EXIT_FINDINGS)
    typer.echo(f"audit log intact: {result.checked} events verified")


@audit_app.command("export")
def export(
    since: str | None = typer.Option(
        None, help="from this time on: ISO date/time (2026-11-24T10:00Z) or 30m, 24h, 7d"
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="write to this file instead of stdout"
    ),
) -> None:
    """Write audit events as JSON lines (one event per line, oldest first) for a SIEM."""
    from llmgenie.core import audit

    try:
        start = audit.parse_since(since) if since else None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    store = cli_store()
    try:
        sink = output.open("w", encoding="utf-8") if output else sys.stdout
    except OSError as exc:
        raise UserError(f"--output {output}: {exc.strerror}") from None
    try:
        for line in audit.export(store, since=start):
            sink.write(line + "\n")
    finally:
        if output:
            sink.close()
