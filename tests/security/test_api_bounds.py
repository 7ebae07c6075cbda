"""Defects of issue 19 point 8 and issue 22's two 500s: inputs to the REST API are bounded, and
what is out of bounds is a 413 or a 422 that does not repeat the input, never a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import serve_api

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"
MIB = 1024 * 1024


@pytest.fixture
def api(
    llmgenie_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", f"{EXAMPLE}:{tmp_path}")
    with serve_api() as client:
        yield client


def test_api_body_over_1_mib_is_413_and_not_echoed(api: httpx.Client) -> None:
    marker = "needle-" * 10
    body = '{"task": "' + marker + "x" * (2 * MIB) + '", "target": "."}'
    answer = api.post("/v1/tasks", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 413, answer.text[:200]
    assert marker not in answer.text and len(answer.content) < 200


def test_api_body_sent_in_chunks_over_1_mib_is_413(api: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts what arrives
        yield b'{"path": "'
        for _ in range(40):
            yield b"x" * 64 * 1024
        yield b'"}'

    answer = api.post("/v1/scan", content=chunks(), headers={"content-type": "application/json"})
    assert answer.status_code == 413, answer.text[:200]


def test_api_422_echoes_the_input(api: httpx.Client) -> None:
    marker = "needle-" * 10
    for path, body in (
        ("/v1/tasks", {"task": marker + "x" * 5000, "target": str(EXAMPLE)}),
        ("/v1/tasks", {"task": "audit", "target": str(EXAMPLE), "role": marker}),
        ("/v1/scan", {"path": str(EXAMPLE), "agents": [marker * 100]}),
        ("/v1/ask", {"question": marker, "top": marker}),
    ):
        answer = api.post(path, json=body)
        assert answer.status_code == 422, answer.text[:300]
        assert marker not in answer.text, answer.text[:300]
        assert len(answer.content) < 1000


def test_api_scan_with_agents_repeated_runs_each_toolset_once(api: httpx.Client) -> None:
    once = api.post("/v1/scan", json={"path": str(EXAMPLE), "agents": ["security"]})
    repeated = api.post("/v1/scan", json={"path": str(EXAMPLE), "agents": ["security"] * 20_000})
    assert once.status_code == repeated.status_code == 200, repeated.text[:300]
    assert len(repeated.json()["findings"]) == len(once.json()["findings"]) > 0


def test_api_scan_with_an_unknown_agent_is_422(api: httpx.Client) -> None:
    answer = api.post("/v1/scan", json={"path": str(EXAMPLE), "agents": ["security", "wizard"]})
    assert answer.status_code == 422
    assert answer.json()["detail"].startswith("agents: unknown agent 'wizard'")


@pytest.mark.parametrize("limit", ["9223372036854775808", "-1", "0", "501"])
def test_api_task_list_limit_out_of_range_is_500_or_unlimited(
    api: httpx.Client, limit: str
) -> None:
    answer = api.get("/v1/tasks", params={"limit": limit})
    assert answer.status_code == 422, answer.text[:300]
    assert answer.json()["detail"].startswith("limit: ")
    assert api.get("/v1/tasks", params={"limit": "500"}).status_code == 200


@pytest.mark.parametrize("endpoint", ["/v1/tasks", "/v1/scan"])
def test_api_300_character_target_is_500(api: httpx.Client, tmp_path: Path, endpoint: str) -> None:
    target = str(tmp_path / ("a" * 300))
    body = {"task": "audit", "target": target} if endpoint == "/v1/tasks" else {"path": target}
    answer = api.post(endpoint, json=body)
    assert answer.status_code == 422, answer.text[:300]
    assert "a name in the path is longer than 255 characters" in answer.text


@pytest.mark.parametrize("endpoint", ["/v1/tasks", "/v1/scan"])
def test_api_target_over_4096_characters_is_500(
    api: httpx.Client, tmp_path: Path, endpoint: str
) -> None:
    target = str(tmp_path) + "/a" * 2100
    body = {"task": "audit", "target": target} if endpoint == "/v1/tasks" else {"path": target}
    answer = api.post(endpoint, json=body)
    assert answer.status_code == 422, answer.text[:300]
    assert target not in answer.text


def test_api_empty_scan_path_scans_the_working_folder(api: httpx.Client) -> None:
    for path in ("", "   "):
        answer = api.post("/v1/scan", json={"path": path})
        assert answer.status_code == 422, answer.text[:300]
