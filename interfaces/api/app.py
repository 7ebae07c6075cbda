"""The REST API: submit tasks, read reports, scan, health and Prometheus metrics.

Thin: each endpoint parses, calls one function of the layers below, and returns domain types.
Tasks run as BOSS flows in this process (the API is itself a long-running Prefect client); with
authentication configured (`LLMGENIE_API_TOKEN`, `LLMGENIE_API_JWT_SECRET`, `LLMGENIE_API_JWKS`:
`auth.py`) every endpoint but /health, /ready and /metrics needs `Authorization: Bearer …`.
/health says the process is up (liveness); /ready says whether the metadata database and the
Prefect API answer (readiness). An endpoint that needs the database while it is down answers 503
with one line saying so, and accepts no task.

Every check of a request is the task service's (`llmgenie.flows.service`): what it refuses is a
422 with its one line. Targets must lie under `LLMGENIE_TARGET_ROOTS` (none set: every target is
refused); a request body over `LLMGENIE_API_MAX_BODY_BYTES` (1 MiB) is a 413; a 422 never
repeats the request's input.

Every error, whatever its status (400, 401, 403, 404, 413, 422, 503), has one shape:
`{"detail": "<one line>"}` (`ErrorBody`); the OpenAPI document states each status a route
answers and its body, and a schemathesis run in the tests holds the API to it (decision 0032).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import (
    Depends,
    FastAPI,
    HTTPException,
    Query,
    Request,
    Response,
    WebSocket,
    status,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llmgenie.core.logging import get_logger
from llmgenie.core.models import AgentReport, Answer, ScanResult, TaskReport, TaskStatus
from llmgenie.core.settings import get_settings
from llmgenie.flows.service import (
    MAX_LIST_LIMIT,
    MAX_PATH_CHARS,
    Refused,
    TargetRoots,
    TaskAsked,
    TaskLine,
    TaskRequest,
    TaskService,
)
from llmgenie.interfaces.api.auth import Authenticator, AuthRefused, Principal

__all__ = [
    "STOPPING",
    "AskRequest",
    "BodyLimit",
    "ErrorBody",
    "ScanRequest",
    "ScanStopped",
    "TaskAccepted",
    "TaskRequest",
    "create_app",
    "prefect_problem",
]

T = TypeVar("T")
log = get_logger(__name__)


class ErrorBody(BaseModel):
    """Every error the API answers, whatever its status."""

    detail: str = Field(description="what is wrong, in one line")


class Readiness(BaseModel):
    """/ready's answer: 200 when ready, 503 with the problems when not."""

    status: str = Field(description="ready | not ready")
    problems: dict[str, str] | None = Field(
        None, description="what does not answer (database, prefect), one line each"
    )


class PrometheusText(PlainTextResponse):
    """Prometheus's text exposition format, as /metrics answers it."""

    media_type = "text/plain; version=0.0.4"


_ERROR_MEANS = {
    400: "the request body could not be read as JSON",
    401: "a bearer token is needed and was missing, wrong, expired or not for this API",
    403: "the token's role claim names no role, or the request asks for a role above it",
    404: "no such task",
    413: "the request body is larger than LLMGENIE_API_MAX_BODY_BYTES",
    422: "the request was refused: what is wrong with it, in one line, without its input",
    503: "the metadata database (or the knowledge base) does not answer",
}
#: what every route with a JSON body and the token check can answer besides its own
_BODY_ERRORS = (400, 401, 403, 413, 422)


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses` of error statuses: each an `ErrorBody`, described once here."""
    return {code: {"model": ErrorBody, "description": _ERROR_MEANS[code]} for code in codes}


class TaskAccepted(BaseModel):
    task_id: str
    status: TaskStatus
    report_url: str


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000, description="e.g. how do I roll back?")
    target: str | None = Field(
        None, max_length=MAX_PATH_CHARS, description="only what is known about it"
    )
    top: int = Field(5, ge=1, le=50, description="how many passages to answer from")


class ScanRequest(BaseModel):
    path: str = Field(
        min_length=1, max_length=MAX_PATH_CHARS, description="folder, file, archive or s3://"
    )
    agents: list[str] | None = Field(None, description="only these toolsets; default all")


async def _with_store(call: Callable[..., T], *args: object) -> T:
    """`call(store, *args)` off the event loop; a database that does not answer is a 503."""
    from sqlalchemy.exc import DBAPIError

    from llmgenie.core.storage import open_store
    from llmgenie.core.storage.db import db_error_line, safe_url
    from llmgenie.flows import crashed

    crashed.watch()

    def run() -> T:
        return call(open_store(), *args)

    try:
        return await asyncio.to_thread(run)
    except DBAPIError as exc:
        url = safe_url(get_settings().resolved_database_url)
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            f"the metadata database {url} does not answer: {db_error_line(exc)}",
        ) from None


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes`, declared or as it arrives, is answered
    413 and read no further (the app sees the client go)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(send)
            return
        received = 0
        refused = False

        async def limited() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def unless_refused(message: Message) -> None:
            if not refused:  # the 413 has gone out: what the app says after it goes nowhere
                await send(message)

        try:
            await self.app(scope, limited, unless_refused)
        except Exception:
            if not refused:
                raise

    async def _refuse(self, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"the request body is larger than {self.max_bytes} bytes"},
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        )
        await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def validation_line(errors: Any) -> str:
    """Validation errors in one line, `field: what is wrong; …`, the service's way of saying a
    refusal, without the input they were about: a 422 never repeats the request."""
    said = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        field = ".".join(loc[1:]) or (loc[0] if loc else "request")
        said.append(f"{field}: {' '.join(str(error.get('msg', 'invalid')).split())}")
    return "; ".join(dict.fromkeys(said)) or "the request is not valid"


class ScanStopped(Exception):
    """The API is stopping: a scan under way ends at its next progress point."""


#: set when the server is told to stop (SIGTERM, Ctrl-C): scans under way end within seconds
#: instead of holding the process until they finish (a thread cannot be killed from outside)
STOPPING = threading.Event()


def _stop_when_the_api_stops(phase: str, done: int, total: int) -> None:
    if STOPPING.is_set():
        raise ScanStopped
    log.info("scan progress", phase=phase, done=done, total=total)


def create_app() -> FastAPI:
    from llmgenie.flows.runtime import ensure_prefect_api

    settings = get_settings()
    ensure_prefect_api(settings)  # before Prefect is imported below
    from llmgenie.core import telemetry
    from llmgenie.core.storage import Store
    from llmgenie.interfaces.api.metrics import install as install_metrics

    app = FastAPI(title="llmgenie", version="0.1.0", description=__doc__)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    install_metrics(app)  # outermost: a 413 is measured too
    service = TaskService(TargetRoots.of(settings))
    authenticator = Authenticator(settings)
    auth = [Depends(authenticator.dependency), *authenticator.openapi_schemes()]

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": validation_line(exc.errors())},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        response_model=Readiness,
        response_model_exclude_none=True,
        responses={503: {"model": Readiness, "description": "not ready, and why"}},
    )
    async def ready(response: Response) -> dict[str, object]:
        problems: dict[str, str] = {}
        try:
            await _with_store(Store.ping)
        except HTTPException as exc:
            problems["database"] = str(exc.detail)
        if (prefect := await prefect_problem()) is not None:
            problems["prefect"] = prefect
        if problems:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return {"status": "not ready", "problems": problems}
        return {"status": "ready"}

    @app.get(
        "/metrics",
        response_class=PrometheusText,
        responses={200: {"description": "Prometheus's text exposition format"}},
    )
    async def metrics() -> PrometheusText:
        return PrometheusText(telemetry.render())

    @app.post(
        "/v1/tasks",
        status_code=status.HTTP_202_ACCEPTED,
        dependencies=auth,
        responses=_errors(*_BODY_ERRORS, 503),
    )
    async def submit(
        request: TaskAsked, caller: Principal = Depends(authenticator.dependency)
    ) -> TaskAccepted:
        role = await authenticator.lowered(caller, request.role, "/v1/tasks")
        checked = await asyncio.to_thread(  # S3: one listing call
            service.check, request.task, request.target, request.agents, role, caller.name
        )
        await _with_store(Store.ping)  # a task that cannot be recorded is not accepted
        task_id = service.submit(checked)
        return TaskAccepted(
            task_id=task_id, status=TaskStatus.running, report_url=f"/v1/tasks/{task_id}"
        )

    @app.get("/v1/tasks", dependencies=auth, responses=_errors(401, 403, 422, 503))
    async def list_tasks(
        limit: Annotated[int, Query(ge=1, le=MAX_LIST_LIMIT, description="newest first")] = 20,
    ) -> list[TaskLine]:
        return await _with_store(lambda store: service.list_tasks(limit, store))

    @app.get(
        "/v1/tasks/{task_id}",
        dependencies=auth,
        response_model=TaskReport,
        responses={
            202: {"model": TaskAccepted, "description": "the task is still running"},
            **_errors(401, 403, 404, 422, 503),
        },
    )
    async def get_task(task_id: str) -> TaskReport | JSONResponse:
        report = await _with_store(lambda store: service.get_task(task_id, store))
        if report is not None:
            return report
        if service.running(task_id) is not None:
            accepted = TaskAccepted(
                task_id=task_id, status=TaskStatus.running, report_url=f"/v1/tasks/{task_id}"
            )
            return JSONResponse(  # the 202 the document states, beside the 200's TaskReport
                accepted.model_dump(mode="json"), status_code=status.HTTP_202_ACCEPTED
            )
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id!r}")

    @app.websocket("/v1/tasks/{task_id}/events")
    async def task_events(websocket: WebSocket, task_id: str) -> None:
        """Each step's start and end as they happen, then the task's end; a task that is not
        running in this process gets its stored state (or 'unknown') and the stream closes."""
        from llmgenie.flows import progress

        header = websocket.headers.get("authorization") or ""
        scheme, _, token = header.partition(" ")
        try:
            await authenticator.check(
                token.strip() if scheme.lower() == "bearer" else None, websocket.url.path
            )
        except AuthRefused as exc:  # the HTTP answer, where the server can give one; else a close
            if "websocket.http.response" in websocket.scope.get("extensions", {}):
                answer = JSONResponse({"detail": exc.reason}, exc.status_code, exc.headers)
                await websocket.send_denial_response(answer)
            else:  # 4401/4403: the HTTP status in WebSocket's private range
                await websocket.close(code=4000 + exc.status_code, reason=exc.reason)
            return
        await websocket.accept()
        events: asyncio.Queue[dict[str, object]] = asyncio.Queue()

        def on_step(step_id: str, event: str, report: object) -> None:
            if progress.task_of_event() != task_id:
                return
            message: dict[str, object] = {"task_id": task_id, "step": step_id, "event": event}
            if isinstance(report, AgentReport):
                mode = report.mode.value if report.mode else None
                message.update(status=report.status.value, mode=mode, findings=len(report.findings))
            events.put_nowait(message)

        unsubscribe = progress.listen(on_step)
        try:
            task = service.running(task_id)
            if task is not None:
                while not (task.done() and events.empty()):
                    getter = asyncio.ensure_future(events.get())
                    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        await websocket.send_json(getter.result())
                    else:
                        getter.cancel()
            try:
                report = await _with_store(lambda store: service.get_task(task_id, store))
            except (HTTPException, Refused) as exc:  # the database is down: say so, not guess
                detail = exc.detail if isinstance(exc, HTTPException) else str(exc)
                await websocket.send_json({"task_id": task_id, "event": "error", "error": detail})
                return
            final = report.status.value if report is not None else "unknown"
            await websocket.send_json({"task_id": task_id, "event": "task", "status": final})
        finally:
            unsubscribe()
            await websocket.close()

    @app.post("/v1/scan", dependencies=auth, responses=_errors(*_BODY_ERRORS, 503))
    async def scan(request: ScanRequest) -> ScanResult:
        try:
            return await asyncio.to_thread(
                service.scan, request.path, request.agents, _stop_when_the_api_stops
            )
        except ScanStopped:
            raise HTTPException(503, "the API is stopping: the scan was not finished") from None

    @app.post("/v1/ask", dependencies=auth, responses=_errors(*_BODY_ERRORS, 503))
    async def ask(request: AskRequest) -> Answer:
        from llmgenie.core.storage.knowledge import KnowledgeUnavailable

        try:
            return await asyncio.to_thread(
                service.ask, request.question, request.target, request.top
            )
        except KnowledgeUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None

    return app


async def prefect_problem() -> str | None:
    """None when the Prefect API answers its health check, else what is wrong, in one line."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        error = await client.api_healthcheck()
        url = str(client.api_url).rstrip("/")
    if error is None:
        return None
    return f"the Prefect API at {url} does not answer: {' '.join(str(error).split())[:300]}"
