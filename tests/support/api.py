"""The REST API on loopback for a test: a real uvicorn server in a thread, and an httpx client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from tests.support.net import free_port
from tests.support.waiting import wait_until

__all__ = ["serve_api"]


@contextmanager
def serve_api(token: str | None = None) -> Iterator[httpx.Client]:
    """`llmgenie api` as configured by the environment now; a client that sends `token`."""
    from llmgenie.core.settings import get_settings
    from llmgenie.interfaces.api.app import create_app

    get_settings.cache_clear()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started or not thread.is_alive(), "the API server to start")
    assert server.started, "the API server stopped while starting"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=60, headers=headers
        ) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join(timeout=10)
