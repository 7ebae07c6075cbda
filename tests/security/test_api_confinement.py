"""Defects of issue 19 point 2: the REST API read any file on the server. Tasks, scans and
questions over the API are now confined to LLMGENIE_TARGET_ROOTS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import serve_api

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "Dockerfile").write_text("FROM nginx:latest\n")
    return folder


@pytest.fixture
def api(
    llmgenie_home: Path, allowed: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", str(allowed))
    with serve_api() as client:
        yield client


def test_api_task_on_any_folder_of_the_server_is_refused(api: httpx.Client) -> None:
    for target in ("/etc", "/proc/self", str(Path.home())):
        answer = api.post("/v1/tasks", json={"task": "audit", "target": target})
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"] == f"target {target!r} is not under LLMGENIE_TARGET_ROOTS"
    assert api.get("/v1/tasks").json() == []


def test_api_with_no_roots_configured_refuses_every_target_and_names_the_setting(
    llmgenie_home: Path, allowed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LLMGENIE_TARGET_ROOTS", raising=False)
    with serve_api() as api:
        for path, body in (
            ("/v1/tasks", {"task": "audit", "target": str(allowed)}),
            ("/v1/scan", {"path": str(allowed)}),
            ("/v1/ask", {"question": "how to deploy?", "target": str(allowed)}),
        ):
            answer = api.post(path, json=body)
            assert answer.status_code == 422, answer.text
            assert "until LLMGENIE_TARGET_ROOTS names the folders" in answer.json()["detail"]


def test_api_task_through_a_link_inside_the_roots_to_outside_is_refused(
    api: httpx.Client, allowed: Path, tmp_path: Path
) -> None:
    (tmp_path / "notes").mkdir()
    (allowed / "notes").symlink_to(tmp_path / "notes")
    answer = api.post("/v1/tasks", json={"task": "document", "target": str(allowed / "notes")})
    assert answer.status_code == 422 and "is not under" in answer.json()["detail"]
    dotted = str(allowed / ".." / "notes")
    answer = api.post("/v1/tasks", json={"task": "document", "target": dotted})
    assert answer.status_code == 422 and "is not under" in answer.json()["detail"]


def test_api_scan_does_not_reveal_whether_a_path_outside_the_roots_exists(
    api: httpx.Client, tmp_path: Path
) -> None:
    (tmp_path / "there").mkdir()
    said = set()
    for name in ("there", "not-there"):
        answer = api.post("/v1/scan", json={"path": str(tmp_path / name)})
        assert answer.status_code == 422, answer.text
        said.add(answer.json()["detail"].replace(name, "…"))
    assert said == {f"target '{tmp_path}/…' is not under LLMGENIE_TARGET_ROOTS"}


def test_api_scan_inside_the_roots_still_works(api: httpx.Client, allowed: Path) -> None:
    answer = api.post("/v1/scan", json={"path": str(allowed)})
    assert answer.status_code == 200, answer.text
    assert any(f["category"] == "docker.latest-tag" for f in answer.json()["findings"])


def test_api_ask_answers_only_about_targets_the_caller_may_submit(
    api: httpx.Client, allowed: Path
) -> None:
    from llmgenie.core.models import Passage, PassageKind
    from llmgenie.core.storage.knowledge import open_knowledge

    for target in ("/srv/notes", str(allowed)):
        open_knowledge().publish(
            target,
            [
                Passage(id=f"p-{len(target)}", target=target, kind=PassageKind.doc,
                        source="notes.md", title="Database", text=f"the password of {target}"),
            ],
        )  # fmt: skip
    outside = api.post("/v1/ask", json={"question": "database password", "target": "/srv/notes"})
    assert outside.status_code == 422 and "is not under" in outside.json()["detail"]
    anywhere = api.post("/v1/ask", json={"question": "database password"})
    assert anywhere.status_code == 422
    assert anywhere.json()["detail"].startswith("target: name the target to ask about")
    inside = api.post("/v1/ask", json={"question": "database password", "target": str(allowed)})
    assert inside.status_code == 200, inside.text
    texts = [c["passage"]["text"] for c in inside.json()["citations"]]
    assert texts == [f"the password of {allowed}"]
