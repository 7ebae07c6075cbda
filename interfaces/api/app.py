"""The REST API: submit tasks, read reports, scan, health and Prometheus metrics.

Thin: each endpoint parses, calls one function of the layers below, and returns domain types.
Tasks run as BOSS flows in this process (the API is itself a long-running Prefect client); with
`LLMGENIE_API_TOKEN` set every endpoint but /health, /ready and /metrics needs
`Authorization: Bearer …`. /health says the process is up (liveness); /ready says whether the
metadata database and the Prefect API answer (readiness). An endpoint that needs the database
while it is down answers 503 with one line saying so, and accepts no task.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import uuid
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, FastAPI, Header, HTTPException, Response, WebSocket, status
from pydantic import BaseModel, Field

from llmgenie.core.models import (
    AGENT_NAMES,
    AgentReport,
    Answer,
    Role,
    ScanResult,
    TaskReport,
    TaskStatus,
)
from llmgenie.core.settings import get_settings

__all__ = ["AskRequest", "ScanRequest", "TaskAccepted", "TaskRequest", "create_app"]

T = TypeVar("T")


class TaskRequest(BaseModel):
    # bounded: they become flow-run parameters, which Prefect caps, and the task goes into prompts
    task: str = Field(
        min_length=1, max_length=4000, description="what to do, e.g. 'audit the manifests'"
    )
    target: str = Field(
        min_length=1, max_length=4096, description="folder, file, archive or s3://bucket/prefix"
    )
    agents: list[str] | None = Field(None, description="only these specialists")
    role: Role = Field(Role.operator, description="the caller's role")
    caller: str = Field(
        "api", min_length=1, max_length=200, description="who asks: a user, a CI job, an alert"
    )


class TaskAccepted(BaseModel):
    task_id: str
    status: TaskStatus
    report_url: str


class AskRequest(BaseModel):
    question: str = Field(min_length=1, max_length=2000, description="e.g. how do I roll back?")
    target: str | None = Field(None, max_length=4096, description="only what is known about it")
    top: int = Field(5, ge=1, le=50, description="how many passages to answer from")


class ScanRequest(BaseModel):
    path: str
    agents: list[str] | None = None


def _check_token(authorization: Annotated[str | None, Header()] = None) -> None:
    expected = os.environ.get("LLMGENIE_API_TOKEN")
    if not expected:
        return
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or wrong bearer token")


def _bad_input(message: str) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message)


async def _with_store(call: Callable[..., T], *args: object) -> T:
    """`call(store, *args)` off the event loop; a database that does not answer is a 503."""
    from sqlalchemy.exc import DBAPIError

    from llmgenie.core.storage import open_store
    from llmgenie.core.storage.db import db_error_line, safe_url

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


def _validate_agents(agents: list[str] | None) -> None:
    unknown = [a for a in agents or [] if a not in AGENT_NAMES]
    if unknown:
        raise _bad_input(f"unknown agent(s) {unknown}; known: {list(AGENT_NAMES)}")


def create_app() -> FastAPI:
    from llmgenie.flows.runtime import ensure_prefect_api

    ensure_prefect_api(get_settings())  # before Prefect is imported below
    from llmgenie.core import telemetry
    from llmgenie.core.storage import Store
    from llmgenie.core.targets import TargetError, check_target, classify_target
    from llmgenie.flows.boss import in_process_boss
    from llmgenie.interfaces.api.metrics import install as install_metrics

    app = FastAPI(title="llmgenie", version="0.1.0", description=__doc__)
    install_metrics(app)
    running: dict[str, asyncio.Task[TaskReport]] = {}
    auth = [Depends(_check_token)]

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready")
    async def ready(response: Response) -> dict[str, object]:
        problems: dict[str, str] = {}
        try:
            await _with_store(Store.ping)
        except HTTPException as exc:
            problems["database"] = str(exc.detail)
        if (prefect := await _prefect_problem()) is not None:
            problems["prefect"] = prefect
        if problems:
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
            return {"status": "not ready", "problems": problems}
        return {"status": "ready"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(telemetry.render(), media_type="text/plain; version=0.0.4")

    @app.post("/v1/tasks", status_code=status.HTTP_202_ACCEPTED, dependencies=auth)
    async def submit(request: TaskRequest) -> TaskAccepted:
        _validate_agents(request.agents)
        try:
            await asyncio.to_thread(check_target, request.target)  # S3: one listing call
        except TargetError as exc:
            raise _bad_input(str(exc)) from None
        await _with_store(Store.ping)  # a task that cannot be recorded is not accepted
        task_id = uuid.uuid4().hex
        running[task_id] = asyncio.create_task(
            in_process_boss()(
                task=request.task,
                target=request.target,
                agents=request.agents,
                role=request.role,
                caller=request.caller,
                task_id=task_id,
            )
        )
        running[task_id].add_done_callback(lambda _: running.pop(task_id, None))
        return TaskAccepted(
            task_id=task_id, status=TaskStatus.running, report_url=f"/v1/tasks/{task_id}"
        )

    @app.get("/v1/tasks", dependencies=auth)
    async def list_tasks(limit: int = 20) -> list[dict[str, object]]:
        rows = await _with_store(Store.list_tasks, limit)
        return [
            {
                "task_id": r.id,
                "task": r.task,
                "target": r.target,
                "status": r.status.value,
                "created_at": r.created_at,
                "by_severity": r.by_severity,
            }
            for r in rows
        ]

    @app.get("/v1/tasks/{task_id}", dependencies=auth)
    async def get_task(task_id: str, response: Response) -> TaskReport | TaskAccepted:
        report = await _with_store(Store.get_report, task_id)
        if report is not None:
            return report
        if task_id in running:
            response.status_code = status.HTTP_202_ACCEPTED
            return TaskAccepted(
                task_id=task_id, status=TaskStatus.running, report_url=f"/v1/tasks/{task_id}"
            )
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no task {task_id!r}")

    @app.websocket("/v1/tasks/{task_id}/events")
    async def task_events(websocket: WebSocket, task_id: str) -> None:
        """Each step's start and end as they happen, then the task's end; a task that is not
        running in this process gets its stored state (or 'unknown') and the stream closes."""
        from llmgenie.flows import progress

        try:
            _check_token(websocket.headers.get("authorization"))
        except HTTPException:
            await websocket.close(code=4401, reason="missing or wrong bearer token")
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
            task = running.get(task_id)
            if task is not None:
                while not (task.done() and events.empty()):
                    getter = asyncio.ensure_future(events.get())
                    await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                    if getter.done():
                        await websocket.send_json(getter.result())
                    else:
                        getter.cancel()
            try:
                report = await _with_store(Store.get_report, task_id)
            except HTTPException as exc:  # the database is down: say so rather than guess
                error = {"task_id": task_id, "event": "error", "error": exc.detail}
                await websocket.send_json(error)
                return
            final = report.status.value if report is not None else "unknown"
            await websocket.send_json({"task_id": task_id, "event": "task", "status": final})
        finally:
            unsubscribe()
            await websocket.close()

    @app.post("/v1/scan", dependencies=auth)
    async def scan(request: ScanRequest) -> ScanResult:
        from llmgenie.agents.tools import scan as run_scan

        _validate_agents(request.agents)
        try:
            classify_target(request.path)
        except TargetError as exc:
            raise _bad_input(str(exc)) from None
        return await asyncio.to_thread(run_scan, request.path, request.agents)

    @app.post("/v1/ask", dependencies=auth)
    async def ask(request: AskRequest) -> Answer:
        from llmgenie.agents.ask import ask as answer
        from llmgenie.core.storage.knowledge import KnowledgeUnavailable

        try:
            return await asyncio.to_thread(answer, request.question, request.target, request.top)
        except KnowledgeUnavailable as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from None

    return app


async def _prefect_problem() -> str | None:
    """None when the Prefect API answers its health check, else what is wrong, in one line."""
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        error = await client.api_healthcheck()
        url = str(client.api_url).rstrip("/")
    if error is None:
        return None
    return f"the Prefect API at {url} does not answer: {' '.join(str(error).split())[:300]}"
