"""The retention flow, run on the session's real Prefect API against a real store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from llmgenie.core.settings import get_settings
from llmgenie.core.storage import close_stores, open_store
from llmgenie.flows.retention import prune_flow
from tests.support.reports import finished_long_ago

pytestmark = pytest.mark.usefixtures("prefect_api")


def test_the_prune_flow_removes_old_tasks_and_its_run_says_what_it_kept(
    llmgenie_home: Path,
) -> None:
    store = open_store(get_settings())
    try:
        old, recent = finished_long_ago(store, 40), finished_long_ago(store, 2)

        summary = asyncio.run(prune_flow(older_than="30d"))

        assert summary["pruned"] == [old.id] and summary["files"] > 5 and not summary["kept"]
        assert store.get_report(old.id) is None and store.get_report(recent.id) is not None

        # a task that is due but cannot go (its files wait for the artifact store) fails the run
        stuck = finished_long_ago(store, 40)
        store._tx(lambda s: s.execute(_mark_pending(stuck.id)))
        state = asyncio.run(prune_flow(older_than="30d", return_state=True))

        assert state.is_failed()
        assert state.message.startswith(
            f"kept 1 of the tasks that were due, e.g. {stuck.id[:12]}: "
        )

        async def read():  # type: ignore[no-untyped-def]
            async with get_client() as client:
                return await client.read_flow_run(state.state_details.flow_run_id)

        run = asyncio.run(read())
        assert run.state.is_failed() and "wait to be uploaded" in run.state.message
    finally:
        close_stores()


def _mark_pending(task_id: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from llmgenie.core.storage.tables import ArtifactRow

    return update(ArtifactRow).where(ArtifactRow.task_id == task_id).values(pending_upload=True)
