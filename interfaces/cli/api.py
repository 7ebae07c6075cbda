"""`llmgenie api`: serve the REST API (tasks, reports, scan, /metrics)."""

from __future__ import annotations

import ipaddress
from types import FrameType
from typing import Annotated

import typer

from llmgenie.interfaces.cli._store import usable_home
from llmgenie.interfaces.cli.errors import UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["api", "is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine: localhost or a loopback address."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve to anything
        return False


@app.command("api")
def api(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8600,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="serve a non-loopback address with no authentication")
    ] = False,
) -> None:
    """Serve the REST API. Callers are authenticated by LLMGENIE_API_TOKEN, tokens signed with
    LLMGENIE_API_JWT_SECRET (`llmgenie token create`) or an OIDC provider's (LLMGENIE_API_JWKS)."""
    import uvicorn

    from llmgenie.core.settings import get_settings
    from llmgenie.interfaces.api.app import STOPPING, create_app

    if not (is_loopback(host) or insecure or get_settings().api_authenticates):
        raise UserError(
            f"--host {host} serves the network with no authentication: set "
            "LLMGENIE_API_JWT_SECRET, LLMGENIE_API_JWKS or LLMGENIE_API_TOKEN, or pass --insecure"
        )
    usable_home()

    class StoppingServer(uvicorn.Server):
        """uvicorn's server, which also tells scans under way to stop when it is told to stop:
        a scan runs in a thread, which nothing can kill from outside."""

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            STOPPING.set()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(create_app(), host=host, port=port, log_level="warning")
    StoppingServer(config).run()
