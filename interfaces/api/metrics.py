"""The REST API's own metrics: each request's duration by method, route template and status.

`install(app)` adds the middleware and registers the collectors a long-running API serves on
/metrics (the work pool's queue depth, read from Prefect). Routes are labelled by their
template (`/v1/tasks/{task_id}`), never by the path a client sent, so the series stay few.
"""

from __future__ import annotations

import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmgenie.core import telemetry
from llmgenie.core.settings import get_settings

__all__ = ["RequestMetrics", "install"]

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
#: The route label of a request no route matched (a 404 for an unknown path, say).
UNMATCHED = "unmatched"


class RequestMetrics:
    """ASGI middleware: observes `llmgenie_api_request_duration_seconds` for each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers: an exception becomes a 500 further out

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"] if scope["method"] in _METHODS else "OTHER"
            route = getattr(scope.get("route"), "path_format", None) or UNMATCHED
            telemetry.API_SECONDS.labels(method, route, str(status)).observe(
                time.perf_counter() - started
            )


def install(app: FastAPI) -> None:
    """Measure `app`'s requests and serve the API process's collectors with the metrics."""
    from llmgenie.flows.metrics import install_queue_depth

    app.add_middleware(RequestMetrics)
    install_queue_depth(get_settings().work_pool)
