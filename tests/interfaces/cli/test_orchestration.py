"""`llmgenie deploy` registers the deployments on the (session's real) Prefect API."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prefect.client.orchestration import get_client

from tests.support.cli import run_cli


@pytest.mark.usefixtures("prefect_api")
def test_deploy_registers_boss_and_specialist(capsys: pytest.CaptureFixture[str]) -> None:
    pool = f"llmgenie-cli-{uuid.uuid4().hex[:8]}"
    code, out, err = run_cli(
        capsys,
        "deploy",
        "--work-pool",
        pool,
        "--cron",
        "0 6 * * 1-5",
        "--target",
        "s3://targets/shop/",
        "--keep-runs",
        "90d",
    )
    assert code == 0, err
    assert "boss/llmgenie-boss:" in out and "specialist/llmgenie-specialist:" in out
    assert "prune/llmgenie-prune:" in out

    async def read() -> tuple[object, object, object, object]:
        async with get_client() as client:
            boss = await client.read_deployment_by_name("boss/llmgenie-boss")
            specialist = await client.read_deployment_by_name("specialist/llmgenie-specialist")
            prune = await client.read_deployment_by_name("prune/llmgenie-prune")
            return boss, specialist, prune, await client.read_work_pool(pool)

    boss, specialist, prune, work_pool = asyncio.run(read())
    assert boss.work_pool_name == specialist.work_pool_name == pool  # type: ignore[attr-defined]
    assert boss.entrypoint == "llmgenie.flows.boss.boss_flow"  # type: ignore[attr-defined]
    assert boss.parameters == {"task": "audit the target", "target": "s3://targets/shop/"}  # type: ignore[attr-defined]
    assert [s.schedule.cron for s in boss.schedules] == ["0 6 * * 1-5"]  # type: ignore[attr-defined]
    assert work_pool.type == "process"  # type: ignore[attr-defined]
    # retention runs daily with the age asked for
    assert prune.entrypoint == "llmgenie.flows.retention.prune_flow"  # type: ignore[attr-defined]
    assert prune.parameters == {"older_than": "90d"}  # type: ignore[attr-defined]
    assert [s.schedule.cron for s in prune.schedules] == ["30 3 * * *"]  # type: ignore[attr-defined]


def test_deploy_refuses_a_retention_age_it_cannot_read(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "deploy", "--keep-runs", "forever")
    assert code == 2 and "--keep-runs: 'forever' is not an age" in err
    assert len(err.strip().splitlines()) == 1
