"""Prefect artifacts of a task and its steps, published in real flow runs and read back."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.runtime import flow_run

from llmgenie.core.settings import get_settings
from llmgenie.core.storage import close_stores, open_store
from llmgenie.flows.publish import (
    MAX_TABLE_ROWS,
    _files_markdown,
    apublish_step_artifacts,
    apublish_task_files,
    apublish_task_report,
)
from tests.support.reports import make_report, make_task


def _artifacts(run_id: str) -> list:  # type: ignore[type-arg]
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )


@flow
async def _step_flow(report) -> str:  # type: ignore[no-untyped-def]
    await apublish_step_artifacts(report)
    return flow_run.id


_PENDING: list = []  # type: ignore[type-arg]


@flow
async def _task_flow() -> str:
    # The report is handed over outside the parameters: a big one exceeds Prefect's limit.
    report = _PENDING.pop()
    await apublish_task_report(report)
    await apublish_task_files(report)
    return flow_run.id


def _by_type(arts: list) -> dict[str, list]:  # type: ignore[type-arg]
    out: dict[str, list] = {}  # type: ignore[type-arg]
    for a in arts:
        out.setdefault(a.type, []).append(a)
    return out


@pytest.mark.usefixtures("prefect_api")
def test_step_artifacts_on_the_subflow_run() -> None:
    step = make_report().steps[0]
    run_id = asyncio.run(_step_flow(step))
    arts = _by_type(_artifacts(run_id))
    [md] = arts["markdown"]
    assert md.key == "llmgenie-security-report"
    assert "# security: security" in md.data and "k8s.privileged" in md.data
    assert "| severity | category | resource | location | title |" in md.data
    assert md.data.count("| critical |") + md.data.count("| high |") >= 1
    assert "table" not in arts, "the step's findings table is inside its Markdown"


@pytest.mark.usefixtures("prefect_api")
def test_target_and_model_text_cannot_become_html_in_the_ui() -> None:
    step = make_report().steps[0]
    hostile = "<img src=x onerror=alert(1)>"
    step = step.model_copy(
        update={
            "summary": f"The model says {hostile} ![p](http://tracker.example/p.png)",
            "findings": [
                step.findings[0].model_copy(update={"title": hostile, "file": "<b>.yaml"})
            ],
        }
    )
    [md] = _by_type(_artifacts(asyncio.run(_step_flow(step))))["markdown"]
    assert "<" not in md.data and "![" not in md.data
    assert "&lt;img src=x onerror=alert(1)>" in md.data and "&lt;b>.yaml" in md.data


def test_task_artifacts_link_presigned_s3_objects(
    s3_bucket: str,
    tmp_path,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    monkeypatch.setenv("LLMGENIE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LLMGENIE_DATABASE_URL", f"sqlite:///{tmp_path / 'meta.db'}")
    monkeypatch.setenv("LLMGENIE_ARTIFACTS_URL", f"s3://{s3_bucket}/lg")
    get_settings.cache_clear()
    try:
        store = open_store()
        task = make_task()
        store.task_started(task)
        report = store.task_finished(make_report(task, n_findings=MAX_TABLE_ROWS + 5))
        _PENDING.append(report)
        run_id = asyncio.run(_task_flow())
        arts = _by_type(_artifacts(run_id))
    finally:
        close_stores()
        get_settings.cache_clear()

    [md] = [a for a in arts["markdown"] if a.key == "llmgenie-task-report"]
    assert task.id in md.data
    [table] = arts["table"]
    import json

    assert len(json.loads(table.data)) == MAX_TABLE_ROWS
    assert f"{MAX_TABLE_ROWS} most severe of {MAX_TABLE_ROWS + 5}" in table.description
    links = _links(arts)
    assert len(links) == len(report.artifacts)
    # the task's reports are keyed link artifacts; the steps' files share one Markdown list
    keys = [key for key, _ in links.values()]
    assert {"report-md", "report-json", "report-sarif"} <= set(keys)
    assert keys.count("llmgenie-step-files") == sum(1 for ref in report.artifacts if ref.step_id)
    for link, (_, description) in links.items():
        assert link.startswith("http://127.0.0.1:") and "Signature" in link
        assert httpx.get(link).status_code == 200
        assert "sha256 " in description


def _links(arts: dict[str, list]) -> dict[str, tuple[str | None, str]]:  # type: ignore[type-arg]
    """Every link the task's artifacts show → (artifact key, what it says of the file).

    Prefect stores a link artifact as Markdown `[text](url)`; the steps' files are rows
    `| [text](url) | description |` of one Markdown artifact."""
    out: dict[str, tuple[str | None, str]] = {}
    for art in arts["markdown"]:
        if art.key == "llmgenie-task-report":
            continue
        if art.key == "llmgenie-step-files":
            for _text, url, description in re.findall(
                r"\| \[(.+?)\]\((.+?)\) \| (.+?) \|", art.data
            ):
                out[url] = (art.key, description)
        else:
            m = re.fullmatch(r"\[(.+)\]\((.+)\)", art.data)
            assert m, art.data
            out[m.group(2)] = (art.key, art.description)
    return out


@pytest.mark.usefixtures("prefect_api")
def test_task_artifacts_link_local_files(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("LLMGENIE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("LLMGENIE_DATABASE_URL", f"sqlite:///{tmp_path / 'meta.db'}")
    monkeypatch.delenv("LLMGENIE_ARTIFACTS_URL", raising=False)
    get_settings.cache_clear()
    try:
        store = open_store()
        task = make_task()
        report = store.task_finished(make_report(task))
        _PENDING.append(report)
        run_id = asyncio.run(_task_flow())
    finally:
        close_stores()
        get_settings.cache_clear()
    links = _links(_by_type(_artifacts(run_id)))
    assert len(links) == len(report.artifacts)
    for link in links:
        assert link.startswith("file://"), link
        assert Path(link.removeprefix("file://")).is_file()


def test_the_stored_files_table_keeps_two_columns_whatever_the_paths() -> None:
    """A home or bucket path with a pipe, a bracket or a newline stays inside its cell."""
    md = _files_markdown(
        [
            {
                "link": "file:///home/a%7Cb/report.json",
                "link_text": "security/re|port].json",
                "description": "stored at /home/a|b/x\nsecond line",
            }
        ]
    )
    row = md.splitlines()[-1]
    assert len(re.findall(r"(?<!\\)\|", row)) == 3  # the table's own pipes only
    assert row.startswith("| [security/re\\|port\\].json](file:///home/a%7Cb/report.json) |")
    assert row.endswith("stored at /home/a\\|b/x second line |")
