"""Deployments: the BOSS flow for UI, schedules and API triggers; the specialist for work pools.

`llmgenie deploy` registers both on the configured Prefect API. With `LLMGENIE_DISPATCH=deployment`
BOSS runs each specialist as a flow run of the specialist deployment, picked up by any worker of
the pool (a `kubernetes` pool in production, `process` locally), still a child of BOSS.
"""

from __future__ import annotations

import contextlib

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists
from prefect.types.entrypoint import EntrypointType

from llmgenie.flows.boss import boss_flow
from llmgenie.flows.specialist import specialist_flow

__all__ = ["BOSS_DEPLOYMENT", "SPECIALIST_DEPLOYMENT", "register_deployments"]

BOSS_DEPLOYMENT = "llmgenie-boss"
SPECIALIST_DEPLOYMENT = "llmgenie-specialist"


async def register_deployments(
    work_pool: str,
    pool_type: str = "process",
    cron: str | None = None,
    task: str = "audit the target",
    target: str | None = None,
) -> dict[str, str]:
    """Create the pool if missing and apply both deployments; returns full name → id."""
    async with get_client() as client:
        with contextlib.suppress(ObjectAlreadyExists):
            await client.create_work_pool(WorkPoolCreate(name=work_pool, type=pool_type))
    ids: dict[str, str] = {}
    specialist = await specialist_flow.ato_deployment(
        name=SPECIALIST_DEPLOYMENT,
        work_pool_name=work_pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="One llmgenie specialist step; BOSS starts these in deployment dispatch mode.",
        tags=["llmgenie"],
    )
    ids[specialist.full_name] = str(await specialist.aapply(work_pool_name=work_pool))
    boss = await boss_flow.ato_deployment(
        name=BOSS_DEPLOYMENT,
        work_pool_name=work_pool,
        entrypoint_type=EntrypointType.MODULE_PATH,
        description="Plan a task over a target and run the specialists.",
        tags=["llmgenie"],
        cron=cron,
        parameters={"task": task, **({"target": target} if target else {})},
    )
    ids[boss.full_name] = str(await boss.aapply(work_pool_name=work_pool))
    return ids
