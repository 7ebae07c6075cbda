"""`llmgenie deploy --pool-type kubernetes` gives the pool the repository's base job template
(issue 21, defect 5), and the Job it yields is a valid Kubernetes object."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from llmgenie.agents.tools.checks.kubernetes_schema import schema_errors
from llmgenie.flows.deploy import base_job_template, register_deployments
from tests.flows.conftest import use_settings
from tests.infra.conftest import job_manifest


async def _pool_template(name: str) -> dict[str, object]:
    async with get_client() as client:
        return (await client.read_work_pool(name)).base_job_template


@pytest.mark.usefixtures("prefect_api", "llmgenie_home")
def test_deploy_applies_the_base_job_template_with_the_image(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pool = f"llmgenie-k8s-{uuid.uuid4().hex[:8]}"
    use_settings(monkeypatch, image="registry.example.com/llmgenie@sha256:" + "a" * 64)
    asyncio.run(register_deployments(pool, pool_type="kubernetes"))

    template = asyncio.run(_pool_template(pool))
    assert template == base_job_template("kubernetes", get_settings_image())
    image = template["variables"]["properties"]["image"]["default"]  # type: ignore[index]
    assert image.endswith("@sha256:" + "a" * 64)

    # a pool that exists is brought back to the repository's template
    use_settings(monkeypatch, image="registry.example.com/llmgenie:2.0.0")
    asyncio.run(register_deployments(pool, pool_type="kubernetes"))
    template = asyncio.run(_pool_template(pool))
    assert template["variables"]["properties"]["image"]["default"].endswith(":2.0.0")  # type: ignore[index]


def test_the_job_validates_strictly_against_the_kubernetes_schema() -> None:
    job = job_manifest(base_job_template("kubernetes"))
    assert strict_errors(job) == []


def strict_errors(job: dict[str, Any]) -> list[str]:
    """Strict schema errors of a Job prefect-kubernetes built, but for the one it imposes:
    its validator requires `parallelism` and `completions` in the pod spec (they belong to the
    Job spec), which the API server drops with a warning (field validation `Warn`, its default
    for clients that do not ask, as the Kubernetes client Prefect uses does not)."""
    job = copy.deepcopy(job)
    pod = job["spec"]["template"]["spec"]
    assert pod.pop("parallelism") == 1 and pod.pop("completions") == 1
    return [e.message for e in schema_errors(job) or []]


def get_settings_image() -> str | None:
    from llmgenie.core.settings import get_settings

    return get_settings().image
