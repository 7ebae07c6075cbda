"""Deployments: the BOSS flow for UI, schedules and API triggers; the specialist for work pools;
retention (`prune`), daily when asked.

`llmgenie deploy` registers them on the configured Prefect API. With `LLMGENIE_DISPATCH=deployment`
BOSS runs each specialist as a flow run of the specialist deployment, picked up by any worker of
the pool (a `kubernetes` pool in production, `process` locally), still a child of BOSS.

A `kubernetes` pool gets the base job template this package ships
(`kubernetes-job-template.json`: the image, the settings ConfigMap and credentials Secret as
`envFrom`, the flow-run service account, resources, a hardened security context, a TTL and the
Prefect API URL), applied on every `deploy` so the cluster runs what the repository says.
See docs/decisions/0026-kubernetes-work-pool.md.
"""

from __future__ import annotations

import copy
import functools
import json
from importlib import resources
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectAlreadyExists
from prefect.types.entrypoint import EntrypointType

from llmgenie.core.settings import get_settings
from llmgenie.flows.boss import boss_flow
from llmgenie.flows.retention import prune_flow
from llmgenie.flows.specialist import specialist_flow

__all__ = [
    "BOSS_DEPLOYMENT",
    "PRUNE_CRON",
    "PRUNE_DEPLOYMENT",
    "SPECIALIST_DEPLOYMENT",
    "base_job_template",
    "register_deployments",
]

BOSS_DEPLOYMENT = "llmgenie-boss"
SPECIALIST_DEPLOYMENT = "llmgenie-specialist"
PRUNE_DEPLOYMENT = "llmgenie-prune"
#: When the retention flow runs, given `keep_runs`: daily, at a quiet hour (UTC).
PRUNE_CRON = "30 3 * * *"
#: The base job template of a `kubernetes` work pool, shipped with this package.
KUBERNETES_JOB_TEMPLATE = "kubernetes-job-template.json"


@functools.cache
def _shipped_template() -> dict[str, Any]:
    text = resources.files("llmgenie.flows").joinpath(KUBERNETES_JOB_TEMPLATE).read_text()
    return json.loads(text)


def base_job_template(pool_type: str, image: str | None = None) -> dict[str, Any]:
    """The base job template `deploy` gives a pool of this type: the shipped one for
    `kubernetes` (with `image` as the image's default when given), else Prefect's default."""
    if pool_type != "kubernetes":
        return {}
    template = copy.deepcopy(_shipped_template())
    if image:
        template["variables"]["properties"]["image"]["default"] = image
    return template


async def register_deployments(
    work_pool: str,
    pool_type: str = "process",
    cron: str | None = None,
    task: str = "audit the target",
    target: str | None = None,
    keep_runs: str | None = None,
) -> dict[str, str]:
    """Create the pool if missing and apply the deployments; returns full name → id.

    `keep_runs` (e.g. `90d`) schedules the retention flow daily with that age; without it the
    retention deployment has no schedule: deleting history is the operator's decision.
    """
    template = base_job_template(pool_type, get_settings().image)
    async with get_client() as client:
        try:
            await client.create_work_pool(
                WorkPoolCreate(name=work_pool, type=pool_type, base_job_template=template)
            )
        except ObjectAlreadyExists:
            if template:  # the repository's template is the one the pool runs
                await client.update_work_pool(work_pool, WorkPoolUpdate(base_job_template=template))
    deployments = [
        (
            specialist_flow,
            SPECIALIST_DEPLOYMENT,
            "One llmgenie specialist step; BOSS starts these in deployment dispatch mode.",
            {},
        ),
        (
            boss_flow,
            BOSS_DEPLOYMENT,
            "Plan a task over a target and run the specialists.",
            {"cron": cron, "parameters": {"task": task, **({"target": target} if target else {})}},
        ),
        (
            prune_flow,
            PRUNE_DEPLOYMENT,
            "Remove llmgenie tasks that ended long ago, with their stored files.",
            {
                "cron": PRUNE_CRON if keep_runs else None,
                "parameters": {"older_than": keep_runs} if keep_runs else {},
            },
        ),
    ]
    ids: dict[str, str] = {}
    for flow, name, description, options in deployments:
        deployment = await flow.ato_deployment(
            name=name,
            work_pool_name=work_pool,
            entrypoint_type=EntrypointType.MODULE_PATH,
            description=description,
            tags=["llmgenie"],
            **options,
        )
        ids[deployment.full_name] = str(await deployment.aapply(work_pool_name=work_pool))
    return ids
