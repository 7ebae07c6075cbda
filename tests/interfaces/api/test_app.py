"""The REST API over real HTTP: a uvicorn server on loopback, driven with httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from llmgenie.core.models import ScanResult, TaskReport
from tests.support.api import serve_api
from tests.support.net import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("prefect_api")

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop"
TOKEN = "test-token-0123456789"


@pytest.fixture
def api(
    llmgenie_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", f"{EXAMPLE}:{tmp_path}")
    yield from _serve(monkeypatch)


#: The metadata database of `api_without_database`: nothing listens there.
DEAD_DATABASE = f"postgresql+psycopg://llmgenie:s3cret@127.0.0.1:{free_port()}/llmgenie"


@pytest.fixture
def api_without_database(
    llmgenie_home: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    from llmgenie.core.settings import get_settings

    monkeypatch.setenv("LLMGENIE_DATABASE_URL", DEAD_DATABASE)
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", str(EXAMPLE))
    get_settings.cache_clear()
    yield from _serve(monkeypatch)


def _serve(monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    monkeypatch.setenv("LLMGENIE_API_TOKEN", TOKEN)
    with serve_api(TOKEN) as client:
        yield client


def test_health_ready_and_metrics_need_no_token(api: httpx.Client) -> None:
    assert httpx.get(f"{str(api.base_url).rstrip('/')}/health").json() == {"status": "ok"}
    ready = httpx.get(f"{str(api.base_url).rstrip('/')}/ready", timeout=60)  # opens the store
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}
    metrics = httpx.get(f"{str(api.base_url).rstrip('/')}/metrics")
    assert metrics.status_code == 200 and "llmgenie_tasks_total" in metrics.text


def test_everything_else_needs_the_token(api: httpx.Client) -> None:
    for bad in ({}, {"Authorization": "Bearer nope"}):
        url = f"{str(api.base_url).rstrip('/')}/v1/scan"
        r = httpx.post(url, json={"path": str(EXAMPLE)}, headers=bad)
        assert r.status_code == 401


def test_scan(api: httpx.Client) -> None:
    r = api.post("/v1/scan", json={"path": str(EXAMPLE), "agents": ["security"]})
    assert r.status_code == 200
    result = ScanResult.model_validate(r.json())
    assert any(f.category == "k8s.privileged" for f in result.findings)


@pytest.mark.parametrize(
    ("path", "agents", "message"),
    [
        ("absent", None, "does not exist"),
        ("/nonexistent", None, "is not under LLMGENIE_TARGET_ROOTS"),
        (str(EXAMPLE), ["wizard"], "unknown agent"),
    ],
)
def test_bad_scan_input_is_422(
    api: httpx.Client, tmp_path: Path, path: str, agents: list[str] | None, message: str
) -> None:
    r = api.post("/v1/scan", json={"path": str(tmp_path / path), "agents": agents})
    assert r.status_code == 422 and message in r.json()["detail"]


def test_a_target_that_does_not_open_is_422_and_no_task(api: httpx.Client, tmp_path: Path) -> None:
    bad = tmp_path / "service.zip"
    bad.write_bytes(b"PK\x03\x04 not a zip")
    for target, message in (
        (bad, "cannot be read"),
        (tmp_path / "absent", "does not exist"),
        ("/nonexistent", "is not under LLMGENIE_TARGET_ROOTS"),
    ):
        r = api.post("/v1/tasks", json={"task": "audit", "target": str(target)})
        assert r.status_code == 422 and message in r.json()["detail"], r.text
    assert api.get("/v1/tasks").json() == []


def test_a_task_text_out_of_bounds_is_422_and_no_task(api: httpx.Client) -> None:
    for text in ("", "x" * 4001):
        r = api.post("/v1/tasks", json={"task": text, "target": str(EXAMPLE)})
        assert r.status_code == 422 and r.json()["detail"].startswith("task: "), r.text
    assert api.get("/v1/tasks").json() == []


def test_submit_a_task_and_read_its_report(api: httpx.Client) -> None:
    r = api.post("/v1/tasks", json={"task": "find secrets", "target": str(EXAMPLE)})
    assert r.status_code == 202
    task_id = r.json()["task_id"]
    r = wait_until(
        lambda: api.get(f"/v1/tasks/{task_id}"),
        "the task to finish",
        until=lambda r: r.status_code == 200 and r.json()["status"] != "running",
        timeout=120,
        every=0.2,
    )
    body = r.json()
    report = TaskReport.model_validate(body)
    assert report.task_id == task_id and report.status.value == "completed"
    assert [s.id for s in report.steps] == ["security"]
    listed = api.get("/v1/tasks").json()
    assert listed[0]["task_id"] == task_id
    assert api.get("/v1/tasks/ffffffff").status_code == 404


def test_a_dead_database_is_a_503_that_says_so_and_no_task_is_accepted(
    api_without_database: httpx.Client,
) -> None:
    api = api_without_database
    said = f"the metadata database {DEAD_DATABASE.replace(':s3cret', ':***')} does not answer: "
    assert api.get("/health").json() == {"status": "ok"}  # the process is alive
    ready = api.get("/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["problems"]["database"].startswith(said)
    assert "prefect" not in ready.json()["problems"]
    for r in (
        api.post("/v1/tasks", json={"task": "find secrets", "target": str(EXAMPLE)}),
        api.get("/v1/tasks"),
        api.get("/v1/tasks/ffffffff"),
    ):
        assert r.status_code == 503 and r.json()["detail"].startswith(said), r.text
        assert "s3cret" not in r.text
    assert api.post("/v1/scan", json={"path": str(EXAMPLE)}).status_code == 200  # no database


async def test_a_dead_prefect_api_is_named_by_the_readiness_check() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from llmgenie.interfaces.api.app import prefect_problem

    assert await prefect_problem() is None
    dead = f"http://127.0.0.1:{free_port()}/api"
    with temporary_settings(updates={PREFECT_API_URL: dead}):
        problem = await prefect_problem()
    assert problem is not None and problem.startswith(f"the Prefect API at {dead} does not answer")


def test_ask_answers_from_the_knowledge_base_with_citations(
    api: httpx.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgenie.core.models import Passage, PassageKind
    from llmgenie.core.storage.knowledge import open_knowledge

    shop = str(tmp_path / "shop")
    open_knowledge().publish(
        shop,
        [
            Passage(id="rb", target=shop, kind=PassageKind.runbook,
                    source="runbooks/api.md", title="How to roll back",
                    text="kubectl -n shop rollout undo deployment/api"),
        ],
    )  # fmt: skip
    answered = api.post("/v1/ask", json={"question": "roll back the api", "target": shop})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["mode"] == "tool-only" and body["citations"][0]["passage"]["id"] == "rb"
    assert api.post("/v1/ask", json={"question": "", "top": 0}).status_code == 422
    no_token = httpx.post(f"{str(api.base_url).rstrip('/')}/v1/ask", json={"question": "x"})
    assert no_token.status_code == 401

    monkeypatch.setenv("LLMGENIE_KNOWLEDGE_URL", "http://127.0.0.1:9")
    from llmgenie.core.settings import get_settings

    get_settings.cache_clear()
    down = api.post("/v1/ask", json={"question": "roll back", "target": shop})
    assert down.status_code == 503 and "http://127.0.0.1:9" in down.json()["detail"]


def _events(api: httpx.Client, task_id: str, token: str | None = None) -> list[dict]:
    import json

    from websockets.sync.client import connect

    url = str(api.base_url).replace("http://", "ws://").rstrip("/")
    headers = {"Authorization": f"Bearer {token or TOKEN}"}
    with connect(f"{url}/v1/tasks/{task_id}/events", additional_headers=headers) as ws:
        return [json.loads(message) for message in ws]


def test_a_task_streams_its_steps_then_its_end_over_a_websocket(api: httpx.Client) -> None:
    first = api.post("/v1/tasks", json={"task": "audit and document", "target": str(EXAMPLE)})
    second = api.post("/v1/tasks", json={"task": "audit and document", "target": str(EXAMPLE)})
    task_id = first.json()["task_id"]
    events = _events(api, task_id)

    assert events[-1] == {"task_id": task_id, "event": "task", "status": "completed"}
    assert all(e["task_id"] == task_id for e in events)
    finished = [e for e in events if e["event"] == "finished"]
    # the other task runs at the same time: its steps are not in this stream
    assert len({e["step"] for e in finished}) == len(finished)
    documentation = next(e for e in finished if e["step"] == "documentation")
    assert documentation["status"] == "completed" and documentation["mode"] == "tool-only"
    assert api.get(f"/v1/tasks/{second.json()['task_id']}").status_code in (200, 202)

    # a task that has ended, or was never here: its stored state, then the stream closes
    assert _events(api, task_id) == [{"task_id": task_id, "event": "task", "status": "completed"}]
    assert _events(api, "f" * 32)[-1]["status"] == "unknown"


def test_the_event_stream_needs_the_token(api: httpx.Client) -> None:
    from websockets.exceptions import ConnectionClosedError, InvalidStatus

    with pytest.raises((ConnectionClosedError, InvalidStatus)) as closed:
        _events(api, "f" * 32, token="wrong")
    if isinstance(closed.value, ConnectionClosedError):
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
