"""`llmgenie scan PATH`: the toolsets alone, no orchestration, no LLM — for pre-commit and CI.

Exit codes (CONTRACTS.md): 0 done and nothing at or above --fail-on; 1 findings at or above
--fail-on (files llmgenie could not analyse count, as `ops.not-analysed`, unless
--allow-unanalysed); 2 bad input (missing path, unknown agent, bad format), one line, no traceback.
Imports neither Prefect nor CrewAI.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from llmgenie.agents.tools.helm_render import not_analysed_line
from llmgenie.core.models import AGENT_NAMES, ScanResult
from llmgenie.interfaces.cli.errors import EXIT_FINDINGS, EXIT_OK, UserError
from llmgenie.interfaces.cli.main import app
from llmgenie.interfaces.cli.options import at_or_above, parse_agents, parse_severity

if TYPE_CHECKING:
    from llmgenie.flows.service import TaskService

__all__ = ["scan_command"]

_FORMATS = ("json", "sarif", "markdown", "text")
_PROGRESS_MIN_FILES = 200


def _render_text(result: ScanResult) -> str:
    lines = []
    for f in result.findings:
        where = f.location or "-"
        res = f" {f.resource}" if f.resource else ""
        ev = f" — {f.evidence}" if f.evidence else ""
        across = f" ({f.in_variants})" if f.in_variants else ""
        lines.append(
            f"{f.severity.value.upper():8} {f.rule_id:12} {where}{res}: {f.title}{ev}{across}"
        )
    s = result.summary
    counts = ", ".join(f"{k}: {v}" for k, v in s.by_severity.items()) or "none"
    lines.append(
        f"{len(result.findings)} findings ({counts}) in {s.files_scanned} files; "
        f"{s.suppressed} suppressed, {len(s.skipped)} skipped"
    )
    nothing = _nothing_analysed(result)
    if nothing:
        lines.append(nothing)
    charts = not_analysed_line(s.skipped)
    if charts:
        lines.append(charts)
    return "\n".join(lines) + "\n"


def _nothing_analysed(result: ScanResult) -> str | None:
    """The line saying no file was analysed (and what was skipped), when that is so."""
    from llmgenie.agents.tools.unanalysed import NOTHING_ANALYSED

    return next((n for n in result.summary.notes if n.startswith(NOTHING_ANALYSED)), None)


@app.command("scan")
def scan_command(
    path: str = typer.Argument(..., help="folder, file or archive to scan"),
    format: str | None = typer.Option(
        None,
        "--format",
        "-f",
        help="json | sarif | markdown | text (default: text on a terminal, json otherwise)",
    ),
    agents: str | None = typer.Option(
        None, "--agents", help=f"comma-separated toolsets to run ({', '.join(AGENT_NAMES)})"
    ),
    fail_on: str | None = typer.Option(
        None, "--fail-on", help="exit 1 when a finding is at or above this severity"
    ),
    output: Path | None = typer.Option(None, "--output", "-o", help="write the report here"),
    allow_unanalysed: bool = typer.Option(
        False,
        "--allow-unanalysed",
        help="let --fail-on pass over files llmgenie could not analyse (still reported)",
    ),
) -> None:
    """Run the toolsets over PATH and print the findings (no orchestration, no LLM)."""
    fmt = (format or ("text" if sys.stdout.isatty() and output is None else "json")).lower()
    if fmt not in _FORMATS:
        raise UserError(
            f"--format: unknown format {format!r}; expected one of {', '.join(_FORMATS)}"
        )
    agent_list = parse_agents(agents)
    threshold = parse_severity(fail_on)
    from llmgenie.flows.service import TaskService

    service = TaskService(roots=None)  # the machine's own user: any path
    service.check_scan(path, agent_list)  # before the progress bar starts
    result = _run(service, path, agent_list)

    if fmt == "text":
        text = _render_text(result)
    else:
        from llmgenie.agents.tools.catalog import rule_catalog
        from llmgenie.core.render import render

        text = render(result, fmt, rule_catalog(agent_list) if fmt == "sarif" else ())
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"--output: cannot write {str(output)!r}: {exc.strerror}") from None
        typer.echo(f"wrote {len(result.findings)} findings to {output}", err=True)
    else:
        sys.stdout.write(text)
    nothing = _nothing_analysed(result)
    if nothing and (fmt != "text" or output is not None):
        typer.echo(nothing, err=True)  # stdout holds the report; the line goes beside it
    from llmgenie.agents.tools.unanalysed import NOT_ANALYSED_CATEGORY

    gated = [
        f.severity
        for f in result.findings
        if not (allow_unanalysed and f.category == NOT_ANALYSED_CATEGORY)
    ]
    if at_or_above(gated, threshold):
        raise typer.Exit(EXIT_FINDINGS)
    raise typer.Exit(EXIT_OK)


def _run(service: TaskService, path: str, agents: list[str] | None) -> ScanResult:
    if not sys.stdout.isatty():
        return service.scan(path, agents)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    task_id = None

    def report(phase: str, done: int, total: int) -> None:
        nonlocal task_id
        if total < _PROGRESS_MIN_FILES:
            return
        if task_id is None:
            progress.start()
            task_id = progress.add_task("scanning", total=total)
        progress.update(task_id, completed=done, description=phase)

    try:
        return service.scan(path, agents, progress=report)
    finally:
        if task_id is not None:
            progress.stop()
