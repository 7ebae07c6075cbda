"""The retention flow: `llmgenie runs prune` as a Prefect flow, for a schedule or the UI.

`llmgenie deploy --keep-runs 90d` registers it with a daily schedule; without the option it is
registered unscheduled, to run from the Prefect UI or API when someone decides to.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Failed, State

from llmgenie.core.logging import get_logger
from llmgenie.core.models import utcnow
from llmgenie.core.settings import get_settings
from llmgenie.core.storage import open_store
from llmgenie.core.storage.retention import parse_age, prune
from llmgenie.flows.logs import install_run_logs
from llmgenie.flows.threads import run_blocking

__all__ = ["prune_flow"]

log = get_logger(__name__)
install_run_logs()


@flow(name="prune", persist_result=False)
async def prune_flow(older_than: str = "90d", dry_run: bool = False) -> dict[str, Any] | State:
    """Remove llmgenie tasks that ended long ago, with their stored files; the audit log stays.

    Args:
        older_than: remove tasks that ended longer ago than this: 30d, 12h, 2w.
        dry_run: say what would go; remove nothing.
    """
    before = utcnow() - parse_age(older_than)
    store = open_store(get_settings())
    result = await run_blocking(prune, store, before, dry_run=dry_run, actor="prefect")
    summary = {
        "before": before.isoformat(),
        "dry_run": dry_run,
        "pruned": [t.id for t in result.pruned],
        "files": result.files,
        "bytes": result.bytes,
        "kept": result.kept,
    }
    log.info(
        "tasks pruned" if not dry_run else "tasks that would be pruned",
        tasks=len(result.pruned),
        files=result.files,
        bytes=result.bytes,
    )
    if result.kept:  # a task that was due stays: the run says so instead of passing quietly
        task_id, why = next(iter(result.kept.items()))
        kept = len(result.kept)
        return Failed(message=f"kept {kept} of the tasks that were due, e.g. {task_id[:12]}: {why}")
    return summary
