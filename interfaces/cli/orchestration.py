"""`llmgenie server …` and `llmgenie deploy`: the embedded Prefect API and the deployments."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from llmgenie.interfaces.cli._store import usable_home
from llmgenie.interfaces.cli.errors import UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["deploy", "server_app"]

server_app = typer.Typer(help="The embedded Prefect API (started on demand by `llmgenie run`).")
app.add_typer(server_app, name="server")


@server_app.command("start")
def server_start() -> None:
    """Start (or find) the embedded Prefect API and print its URL and the UI's."""
    from llmgenie.flows.runtime import ensure_prefect_api

    usable_home()
    url = ensure_prefect_api()
    typer.echo(f"Prefect API: {url}\nPrefect UI:  {url.removesuffix('/api')}")


@server_app.command("stop")
def server_stop() -> None:
    """Stop the embedded Prefect API if it runs."""
    from llmgenie.flows.runtime import stop_embedded_server

    typer.echo("stopped" if stop_embedded_server() else "not running")


@app.command("deploy")
def deploy(
    work_pool: Annotated[str, typer.Option(help="work pool for the flow runs")] = "llmgenie",
    pool_type: Annotated[str, typer.Option(help="process, kubernetes, docker, …")] = "process",
    cron: Annotated[str | None, typer.Option(help="schedule BOSS, e.g. '0 6 * * *'")] = None,
    task: Annotated[
        str, typer.Option(help="default task of the BOSS deployment")
    ] = "audit the target",
    target: Annotated[
        str | None, typer.Option(help="default target of the BOSS deployment")
    ] = None,
    keep_runs: Annotated[
        str | None,
        typer.Option(help="prune tasks older than this (e.g. 90d) daily; unscheduled if unset"),
    ] = None,
) -> None:
    """Register the BOSS, specialist and prune deployments on the Prefect API (creating the
    pool)."""
    from llmgenie.core.storage.retention import parse_age
    from llmgenie.flows.runtime import ensure_prefect_api

    if keep_runs is not None:
        try:
            parse_age(keep_runs)
        except ValueError as exc:
            raise UserError(f"--keep-runs: {exc}") from None
    ensure_prefect_api()
    from llmgenie.flows.deploy import register_deployments

    ids = asyncio.run(register_deployments(work_pool, pool_type, cron, task, target, keep_runs))
    for name, ident in ids.items():
        typer.echo(f"{name}: {ident}")
    typer.echo(f"start a worker: prefect worker start --pool {work_pool}")
