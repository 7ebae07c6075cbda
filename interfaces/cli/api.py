"""`llmgenie api`: serve the REST API (tasks, reports, scan, /metrics)."""

from __future__ import annotations

from typing import Annotated

import typer

from llmgenie.interfaces.cli._store import usable_home
from llmgenie.interfaces.cli.main import app

__all__ = ["api"]


@app.command("api")
def api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8600,
) -> None:
    """Serve the REST API; set LLMGENIE_API_TOKEN to require a bearer token."""
    import uvicorn

    from llmgenie.interfaces.api.app import create_app

    usable_home()
    uvicorn.run(create_app(), host=host, port=port, log_level="warning")
