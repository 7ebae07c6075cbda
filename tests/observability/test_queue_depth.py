"""The work pool's queue depth, read from the real (embedded) Prefect API; a scrape never fails."""

from __future__ import annotations

import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prometheus_client import CollectorRegistry

from llmgenie.flows.metrics import WorkPoolQueue
from tests.support.net import closed_port_url

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


def _depth(collector: WorkPoolQueue) -> list[float]:
    """A scrape that starts a read, then the scrape after that read."""
    collector.read.clear()
    list(collector.collect())
    assert collector.read.wait(60), "the queue depth was never read"
    registry = CollectorRegistry()
    registry.register(collector)
    return [
        sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "llmgenie_work_pool_queue_depth"
    ]


async def test_the_queue_depth_counts_the_runs_waiting_on_the_pool() -> None:
    pool = f"queue-{uuid.uuid4().hex[:8]}"
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
        flow_id = await client.create_flow_from_name("queue-depth")
        deployment = await client.create_deployment(flow_id, "waits", work_pool_name=pool)
        for _ in range(3):  # Scheduled, due now; no worker polls the pool
            await client.create_flow_run_from_deployment(deployment)
    collector = WorkPoolQueue(pool, ttl=0)
    assert _depth(collector) == [3.0]
    assert _depth(WorkPoolQueue(f"empty-{pool}", ttl=0)) == [0.0]


def test_a_prefect_api_that_is_down_leaves_the_gauge_out_and_the_scrape_whole() -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: f"{closed_port_url()}/api"}):
        assert _depth(WorkPoolQueue("llmgenie", ttl=0)) == []
