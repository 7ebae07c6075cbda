"""`llmgenie mcp`: serve llmgenie's tools to Cursor, VS Code and other MCP clients over stdio."""

from __future__ import annotations

from typing import Annotated

import typer

from llmgenie.flows.service import check_role
from llmgenie.interfaces.cli._store import usable_home
from llmgenie.interfaces.cli.main import app

__all__ = ["mcp"]


@app.command("mcp")
def mcp(
    role: Annotated[
        str, typer.Option(help="the role tasks run with: viewer, operator, maintainer, admin")
    ] = "operator",
) -> None:
    """Serve the MCP tools (scan, run_task, list_tasks, get_task, ask, explain_rule) on stdio."""
    caller_role = check_role(role)
    from llmgenie.core.logging import configure_logging
    from llmgenie.core.settings import get_settings
    from llmgenie.interfaces.mcp.server import build_server, serve_stdio

    usable_home()
    configure_logging(get_settings())
    serve_stdio(build_server(caller_role))
