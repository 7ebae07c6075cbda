"""A task found interrupted has its Prefect flow runs set to Crashed: BOSS's and its children's.

The store marks a task whose process died `interrupted` (core/storage/liveness.py); Prefect
would otherwise show its runs Running for ever. `watch()` registers the listener; whoever opens
a store for BOSS or an interface calls it first (the task service, BOSS, the CLI's and the
API's store openers). Prefect's API is
asked only when it is configured (`PREFECT_API_URL`) or the embedded one is up: listing tasks
never starts a server. See docs/decisions/0034-faults-leave-a-true-state.md.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from llmgenie.core.settings import get_settings
from llmgenie.core.storage.liveness import Interrupted, on_interrupted

if TYPE_CHECKING:
    from prefect.client.orchestration import SyncPrefectClient

__all__ = ["crash_flow_runs", "crash_interrupted", "watch"]

_log = logging.getLogger("llmgenie.flows")

#: Seconds one call to the Prefect API may take here: a sweep runs inside `runs list`.
_TIMEOUT_SECONDS = 5.0


def crash_interrupted(gone: list[Interrupted]) -> None:
    """The listener: the flow runs of tasks just marked interrupted become Crashed."""
    roots = [run_id for _, run_id in gone if run_id]
    if not roots:
        return
    client = _client()
    if client is None:
        _log.warning(
            "no Prefect API is up: the flow runs of interrupted tasks %s stay as they are",
            ", ".join(task_id for task_id, _ in gone),
        )
        return
    with client:
        crash_flow_runs(client, roots)


def crash_flow_runs(client: SyncPrefectClient, roots: list[str]) -> list[str]:
    """Set each run in `roots`, and every descendant not already final, to Crashed.

    Returns the ids of the runs it set. A run already final (completed, failed, cancelled,
    crashed) is left as it is: it ended before its task was found dead.
    """
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId
    from prefect.states import Crashed

    crashed: list[str] = []
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        parents = [p for p in pending if p not in seen]
        seen.update(parents)
        if not parents:
            break
        for run_id in parents:
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                continue
            client.set_flow_run_state(
                run_id,
                Crashed(message="llmgenie found its task interrupted: the process is gone"),
                force=True,
            )
            crashed.append(run_id)
        children = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=parents)  # type: ignore[arg-type]
            )
        )
        pending = [str(child.id) for child in children]
    return crashed


def _client() -> SyncPrefectClient | None:
    """A client of the configured API, or of the embedded one if it is running; else None."""
    from prefect.client.orchestration import SyncPrefectClient, get_client

    from llmgenie.flows.runtime import running_api

    url = running_api(get_settings())
    if url is None:
        return None
    httpx_settings = {"timeout": _TIMEOUT_SECONDS}
    if os.environ.get("PREFECT_API_URL"):  # the user's: its key and auth from their settings
        return get_client(sync_client=True, httpx_settings=httpx_settings)
    return SyncPrefectClient(url, httpx_settings=httpx_settings)


def watch() -> None:
    """From now on, tasks this process finds interrupted get their flow runs Crashed."""
    on_interrupted(crash_interrupted)
