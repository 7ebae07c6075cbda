"""Work-pool dispatch: each specialist as a flow run of a deployment, run by a real worker.

The worker keeps Prefect's local result storage in a folder of its own, as a pod would: a
specialist's report must reach BOSS through llmgenie's store, not through a file there.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from llmgenie.core.models import StepStatus, TaskStatus
from llmgenie.flows.boss import boss_flow
from llmgenie.flows.deploy import BOSS_DEPLOYMENT, SPECIALIST_DEPLOYMENT, register_deployments
from tests.flows.conftest import EXAMPLE, use_settings

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.slow]


@pytest.fixture
def worker_storage(tmp_path: Path) -> Path:
    """Where the worker's flow runs would persist Prefect results: on their pod's disk."""
    return tmp_path / "worker-prefect-storage"


@pytest.fixture
def process_worker(worker_storage: Path) -> Iterator[str]:
    pool = f"llmgenie-test-{uuid.uuid4().hex[:8]}"
    asyncio.run(register_deployments(pool, pool_type="process"))
    env = {
        **os.environ,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "5",
        "PREFECT_LOCAL_STORAGE_PATH": str(worker_storage),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "worker",
            "start",
            "--pool",
            pool,
            "--type",
            "process",
            "--limit",
            "4",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield pool
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


@pytest.mark.usefixtures("llmgenie_home")
def test_specialists_run_on_the_work_pool_as_children_of_boss(
    monkeypatch: pytest.MonkeyPatch, process_worker: str, worker_storage: Path
) -> None:
    use_settings(
        monkeypatch,
        dispatch="deployment",
        specialist_deployment=f"specialist/{SPECIALIST_DEPLOYMENT}",
    )

    report = asyncio.run(boss_flow(task="audit the shop", target=str(EXAMPLE)))

    assert report.status is TaskStatus.completed, report.notes
    assert all(s.status is StepStatus.completed for s in report.steps)
    assert any(f.agent == "security" for f in report.findings)

    async def child_runs() -> list[tuple[bool, str]]:
        async with get_client() as client:
            out = []
            for s in report.steps:
                run = await client.read_flow_run(uuid.UUID(s.flow_run_id))
                parent = await client.read_task_run(run.parent_task_run_id)
                out.append(
                    (
                        run.deployment_id is not None and run.work_pool_name == process_worker,
                        str(parent.flow_run_id),
                    )
                )
            return out

    runs = asyncio.run(child_runs())
    assert runs == [(True, report.flow_run_id)] * 4
    # the documentation step read the others' reports from the artifact store, by id
    doc = next(s for s in report.steps if s.id == "documentation")
    assert "the reports of: devops, performance, security" in doc.output["catalogue_md"]
    request = asyncio.run(_parameters(doc.flow_run_id))["request"]
    assert sorted(request["prior_steps"]) == ["devops", "performance", "security"]
    assert "prior_reports" not in request
    # and no step's report was left as a result file on the worker's disk
    written = [p for p in worker_storage.rglob("*") if p.is_file()]
    assert written == [], written


async def _parameters(flow_run_id: str | None) -> dict[str, object]:
    async with get_client() as client:
        return (await client.read_flow_run(uuid.UUID(flow_run_id or ""))).parameters


@pytest.mark.usefixtures("llmgenie_home")
def test_boss_runs_as_a_deployment_triggered_over_the_api(process_worker: str) -> None:
    """As a schedule, the Prefect UI or an API trigger runs it: a flow run of the BOSS
    deployment, picked up by a worker; its report is BOSS's result and is in the store."""
    from prefect.deployments import arun_deployment

    from llmgenie.core.models import TaskReport
    from llmgenie.core.storage import open_store

    async def trigger() -> tuple[object, object]:
        flow_run = await arun_deployment(
            f"boss/{BOSS_DEPLOYMENT}",
            parameters={"task": "find secrets", "target": str(EXAMPLE), "agents": ["security"]},
            timeout=180,
            poll_interval=0.5,
        )
        state = flow_run.state
        assert state is not None and state.is_completed(), state
        return flow_run, await state.aresult()

    flow_run, result = asyncio.run(trigger())
    report = TaskReport.model_validate(result)
    assert report.status is TaskStatus.completed
    assert report.flow_run_id == str(flow_run.id)  # type: ignore[attr-defined]
    assert [s.id for s in report.steps] == ["security"]
    stored = open_store().get_report(report.task_id)
    assert stored is not None and stored.status is TaskStatus.completed
    assert stored.caller.name == "prefect" and stored.findings == report.findings
