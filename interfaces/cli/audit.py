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


#: Lines of anchor problems shown; the rest are counted.
_MAX_PROBLEMS = 20


@audit_app.command("verify")
def verify() -> None:
    """Walk the hash chain and check every task's anchor; exit 1 naming what is broken or gone."""
    from llmgenie.core import audit

    result = audit.verify(cli_store())
    if not result.ok:
        where = f" at event #{result.broken_at}" if result.broken_at else ""
        typer.echo(f"audit log BROKEN{where}: {result.reason}", err=True)
        extra = [p for p in result.problems if p != result.reason]
        for problem in extra[:_MAX_PROBLEMS]:
            typer.echo(f"  - {problem}", err=True)
        if len(extra) > _MAX_PROBLEMS:
            typer.echo(f"  … and {len(extra) - _MAX_PROBLEMS} more", err=True)
        typer.echo(f"{result.checked} events verified before the break", err=True)
        raise typer.Exit(EXIT_FINDINGS)
    typer.echo(
        f"audit log intact: {result.checked} events verified, {result.anchors} task anchors found"
    )


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
