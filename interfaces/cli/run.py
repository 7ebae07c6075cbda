"""`llmgenie run TASK --target PATH`: the main job — BOSS plans and runs the specialists."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from llmgenie.agents.planner import REJECTED_PLAN_NOTE, RULES_USED_NOTE
from llmgenie.agents.tools.helm_render import not_analysed_line
from llmgenie.core.models import (
    AttemptOutcome,
    Severity,
    StepStatus,
    TaskReport,
    TaskStatus,
)
from llmgenie.interfaces.cli import heap
from llmgenie.interfaces.cli._store import cli_store, usable_home
from llmgenie.interfaces.cli.errors import EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, UserError
from llmgenie.interfaces.cli.main import app
from llmgenie.interfaces.cli.options import at_or_above, parse_agents, parse_severity

if TYPE_CHECKING:
    from llmgenie.core.settings import Settings

__all__ = ["run"]

T = TypeVar("T")


def gate_exit_code(
    report_status: TaskStatus | None, severities: list[Severity], fail_on: Severity | None
) -> int:
    if report_status is TaskStatus.failed:
        return EXIT_FINDINGS
    return EXIT_FINDINGS if at_or_above(severities, fail_on) else EXIT_OK


def gated_severities(report: TaskReport, allow_unanalysed: bool) -> list[Severity]:
    """The severities `--fail-on` judges: every finding's, but files llmgenie could not
    analyse (`ops.not-analysed`) only without --allow-unanalysed."""
    from llmgenie.agents.tools.unanalysed import NOT_ANALYSED_CATEGORY

    return [
        f.severity
        for f in report.findings
        if not (allow_unanalysed and f.category == NOT_ANALYSED_CATEGORY)
    ]


def nothing_analysed(report: TaskReport) -> str | None:
    """The line saying the target had no file to analyse (and what was skipped), when every
    step that ran says so (a step sees only the kinds of file it reads)."""
    from llmgenie.agents.tools.unanalysed import NOTHING_ANALYSED

    said = [
        next((n for n in s.notes if n.startswith(NOTHING_ANALYSED)), None)
        for s in report.steps
        if s.status is StepStatus.completed
    ]
    return said[0] if said and all(said) else None


@app.command("run")
def run(
    task: Annotated[str, typer.Argument(help="what to do, e.g. 'audit the manifests'")],
    target: Annotated[str, typer.Option("--target", "-t", help="folder, file, archive or s3://")],
    agents: Annotated[
        str | None, typer.Option(help="only these agents, e.g. security,devops")
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    fail_on: Annotated[
        str | None, typer.Option(help="exit 1 on findings at this severity or worse")
    ] = None,
    role: Annotated[
        str, typer.Option(help="caller role: viewer, operator, maintainer, admin")
    ] = "operator",
    allow_unanalysed: Annotated[
        bool,
        typer.Option(
            "--allow-unanalysed",
            help="let --fail-on pass over files llmgenie could not analyse (still reported)",
        ),
    ] = False,
) -> None:
    """Plan the task over the target and run the specialists as Prefect flows."""
    from llmgenie.core.settings import get_settings
    from llmgenie.flows.service import TaskService, check_providers

    if output_format not in ("text", "json"):
        raise UserError(f"--format: {output_format!r} is not one of text, json")
    threshold = parse_severity(fail_on)
    service = TaskService(roots=None)  # the machine's own user: any target
    # an empty --agents means every agent, as before; a target that does not open at all is
    # refused before any step; the providers are checked as their code loads, below
    request = service.check(
        task, target, parse_agents(agents or None), role, caller="cli", providers=False
    )

    usable_home()
    settings = get_settings()
    from llmgenie.core.logging import configure_logging
    from llmgenie.flows.runtime import PrefectUnavailable, start_prefect_api

    configure_logging(settings)
    started = time.perf_counter()
    try:
        api = start_prefect_api(settings)
        with heap.startup():  # Prefect and CrewAI load while a new embedded API starts
            import llmgenie.flows.boss  # noqa: F401
            from llmgenie.agents.executors import preload_providers

            preload_providers(_models_in_use(settings))
            check_providers(settings)
        # a wrong or unreachable metadata database is one line now, not a failed flow run
        # later; BOSS reuses this store (one per process and settings)
        cli_store()
        api_url = api.wait()
    except PrefectUnavailable as exc:
        typer.echo(f"llmgenie: error: {exc}", err=True)
        raise typer.Exit(EXIT_FINDINGS) from None

    task_id = uuid.uuid4().hex
    try:
        report = _run_with_progress(lambda: service.run(request, task_id), output_format == "text")
    except Interrupted:
        _quit_interrupted(task_id)
    elapsed = time.perf_counter() - started
    spooled = cli_store().report_spooled(report.task_id)
    if output_format == "json":
        typer.echo(report.model_dump_json(indent=2))
        nothing = nothing_analysed(report)
        if nothing:
            typer.echo(nothing, err=True)
    else:
        drift = None if spooled else _drift_line(report)
        typer.echo(render_text(report, elapsed, api_url, drift, _waiting(report)))
    if spooled:
        typer.echo(
            "llmgenie: the metadata database did not answer at the end of the run; the report "
            f"waits in {spooled} until `llmgenie artifacts sync` stores it (each new run tries)",
            err=True,
        )
    raise typer.Exit(
        gate_exit_code(report.status, gated_severities(report, allow_unanalysed), threshold)
    )


def _models_in_use(settings: Settings) -> list[str]:
    from llmgenie.agents.specs import load_specs

    return [*settings.model_chain, *(m for spec in load_specs().values() for m in spec.models)]


class Interrupted(Exception):
    """The user pressed Ctrl-C; the run was cancelled."""


#: After Ctrl-C, how long the steps get to record their end before the process quits anyway.
_STOP_GRACE_SECONDS = 10.0


async def _interruptible(run: Coroutine[Any, Any, T]) -> T:
    """Await `run`; the first Ctrl-C cancels it, the second quits at once.

    Cancelled, BOSS cancels its steps, and each ends Crashed in Prefect. A step blocked in a
    model call or a toolset stays blocked in its thread: the process does not wait for it.
    """
    loop = asyncio.get_running_loop()
    main = asyncio.ensure_future(run)
    interrupts = 0

    def on_sigint() -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            typer.echo(
                "llmgenie: interrupted: stopping the steps (Ctrl-C again to quit at once)",
                err=True,
            )
            _quiet_prefect_console()
            main.cancel()
            loop.call_later(_STOP_GRACE_SECONDS, on_sigint)
        else:
            typer.echo("llmgenie: interrupted: quitting now", err=True)
            _exit_now(EXIT_INTERRUPTED)

    try:
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    except (NotImplementedError, RuntimeError):  # not the main thread: Ctrl-C stays Python's
        return await main
    try:
        return await main
    except asyncio.CancelledError:
        if interrupts:
            raise Interrupted from None
        raise
    finally:
        loop.remove_signal_handler(signal.SIGINT)


def _quiet_prefect_console() -> None:
    """Each cancelled run logs "Crash detected!" twice: to the API (the UI keeps them), and to
    the console, where one line from us says it all."""
    import logging

    from prefect.logging.handlers import PrefectConsoleHandler

    for handler in logging.getLogger().handlers:
        if isinstance(handler, PrefectConsoleHandler):
            handler.setLevel(logging.CRITICAL + 1)


def _quit_interrupted(task_id: str) -> NoReturn:
    typer.echo(
        f"llmgenie: interrupted: task {task_id[:12]} stopped; Prefect shows its runs as Crashed",
        err=True,
    )
    # threads still blocked in a model call or a toolset would hold the interpreter's exit
    _exit_now(EXIT_INTERRUPTED)


def _exit_now(code: int) -> NoReturn:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _run_with_progress(
    boss: Callable[[], Coroutine[Any, Any, TaskReport]], show: bool
) -> TaskReport:
    from llmgenie.flows import progress

    status = None
    if show and sys.stderr.isatty():
        from rich.console import Console

        status = Console(stderr=True).status("planning…")
        status.start()
    running: set[str] = set()
    finished: list[str] = []

    def on_step(step_id: str, event: str, report: object) -> None:
        if event == "started":
            running.add(step_id)
        else:
            running.discard(step_id)
            if event == "finished":
                finished.append(step_id)
        if status is not None:
            status.update(
                f"running: {', '.join(sorted(running)) or '—'}   done: {', '.join(finished) or '—'}"
            )

    from prefect.context import SyncClientContext

    unsubscribe = progress.listen(on_step)
    try:
        # One sync client for the run: Prefect otherwise builds one (TLS context, connection)
        # for each of its own lookups as the flow starts.
        with SyncClientContext.get_or_create():
            return asyncio.run(_interruptible(boss()))
    finally:
        unsubscribe()
        if status is not None:
            status.stop()


def _drift_line(report: TaskReport) -> str | None:
    try:
        from llmgenie.core.storage import open_store

        drift = open_store().drift(report)
    except Exception:  # drift is a courtesy; the report stands without it
        return None
    return drift.summary_line() if drift else None


def _ui_url(api_url: str, flow_run_id: str | None) -> str | None:
    if not flow_run_id:
        return None
    return f"{api_url.removesuffix('/api').rstrip('/')}/runs/flow-run/{flow_run_id}"


def _no_model_line(report: TaskReport) -> str:
    """Why every step is tool-only: no model configured, or the models failed (and how)."""
    failed = [
        a
        for s in report.steps
        for a in s.attempts
        if a.executor != "tool-only" and a.outcome is not AttemptOutcome.succeeded
    ]
    if not failed:
        return "no model ran: every step used its tools only (set LLMGENIE_LLM to add one)"
    return (
        f"no model answered: every step fell back to its tools after {len(failed)} failed "
        f"model attempts (last: {failed[-1].error}); each attempt is in the report"
    )


def _waiting(report: TaskReport) -> str | None:
    """Where the task's files wait when the artifact store did not take them, else None."""
    if not any(a.pending_upload for a in report.artifacts):
        return None
    return str(cli_store().spool_folder(report.task_id))


def _model_plan_not_used(report: TaskReport) -> str | None:
    """Why BOSS planned by its rules although a model was asked, if it did."""
    for note in report.plan.notes:
        if note.startswith(REJECTED_PLAN_NOTE):
            return note.removeprefix(REJECTED_PLAN_NOTE).removesuffix(RULES_USED_NOTE)
    return None


def render_text(
    report: TaskReport,
    elapsed: float,
    api_url: str,
    drift: str | None,
    waiting: str | None = None,
) -> str:
    lines = [
        f"llmgenie · task {report.task_id[:12]} · {report.status.value} in {elapsed:.1f} s"
        f" · {report.target}"
    ]
    order = {s.id: [d for d in s.depends_on] for s in report.plan.steps}
    first = [s for s, deps in order.items() if not deps]
    later = [f"{s} (after {', '.join(deps)})" for s, deps in order.items() if deps]
    lines.append(
        f"plan ({report.plan.planner}): {', '.join(first)}"
        + (f"; then {'; '.join(later)}" if later else "")
    )
    rejected = _model_plan_not_used(report)
    if rejected:
        lines.append(f"  the model's plan was not used: {rejected}")
    lines.append("")
    lines.append(f"  {'step':<15}{'status':<11}{'mode':<11}{'time':>7}  findings")
    for s in report.steps:
        took = (
            (s.finished_at - s.started_at).total_seconds() if s.started_at and s.finished_at else 0
        )
        mode = s.model or s.mode.value if s.status is StepStatus.completed else "—"
        lines.append(f"  {s.id:<15}{s.status.value:<11}{mode:<11}{took:>6.1f}s  {len(s.findings)}")
        if s.error:
            lines.append(f"    └ {s.error}")
    lines.append("")
    counts = report.summary.by_severity
    if counts:
        lines.append(
            "findings: "
            + ", ".join(f"{counts[s.value]} {s.value}" for s in Severity if counts.get(s.value))
        )
        for f in report.findings[:8]:
            where = f.location or ""
            res = f" ({f.resource})" if f.resource else ""
            lines.append(f"  [{f.severity.value}] {f.title} — {where}{res}")
        if len(report.findings) > 8:
            lines.append(f"  … and {len(report.findings) - 8} more in the full report")
    else:
        lines.append("findings: none")
    nothing = nothing_analysed(report)
    if nothing:
        lines.append(nothing)
    charts = not_analysed_line(report.skipped)
    if charts:
        lines.append(charts)
    if drift:
        lines.append(drift)
    if all(s.mode.value == "tool-only" for s in report.steps if s.status is StepStatus.completed):
        lines.append(_no_model_line(report))
    shown = {"report.md": "report", "catalogue.md": "service catalogue"}
    for a in report.artifacts:
        if a.name in shown:
            note = " (not uploaded yet)" if a.pending_upload else ""
            lines.append(f"{shown[a.name]}: {a.url}{note}")
    taught = sum(int(s.output.get("knowledge_passages", 0)) for s in report.steps)
    if taught:
        lines.append(
            f'knowledge: {taught} passages taught; ask with: llmgenie ask "…" --target '
            f"{report.target}"
        )
    if waiting:
        pending = sum(a.pending_upload for a in report.artifacts)
        lines.append(
            f"the artifact store did not answer: {pending} files wait in {waiting} until "
            "`llmgenie artifacts sync` uploads them (each new task tries too)"
        )
    ui = _ui_url(api_url, report.flow_run_id)
    if ui:
        lines.append(f"prefect: {ui}")
    return "\n".join(lines)
