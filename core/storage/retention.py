"""Retention: remove tasks that ended long ago, with their stored files; keep the audit log.

Every run adds a task's rows (steps, attempts, findings, artifacts) and ~10 files. A schedule
that runs daily grows both without end. `prune` removes what ended before a cutoff:

* never a task still running (tasks whose process died are marked `interrupted` first);
* never a task whose files still wait in the spool for the artifact store: pruning it would
  drop files that were never stored anywhere else (`llmgenie artifacts sync` uploads them);
* files first, then rows: when the artifact store does not answer, the task's rows stay, so
  the next prune finds it again, and the run says why in one line;
* the audit log is kept whole (it is a hash chain), and each pruned task adds a `task.pruned`
  event to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Row, delete, func, select
from sqlalchemy.orm import Session

from llmgenie.core.audit import AuditEntry
from llmgenie.core.models import TaskStatus
from llmgenie.core.storage.backends import ArtifactUnavailableError, remove_empty_folders, task_key
from llmgenie.core.storage.db import transaction
from llmgenie.core.storage.store import Store
from llmgenie.core.storage.tables import ArtifactRow, AttemptRow, FindingRow, StepRow, TaskRow

__all__ = ["PruneResult", "PrunedTask", "parse_age", "prune"]

_ENDED = [s.value for s in TaskStatus if s is not TaskStatus.running]
_AGE = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.ASCII)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_MAX_AGE = timedelta(days=36525)


def parse_age(raw: str) -> timedelta:
    """`30d`, `12h`, `90m`, `2w` → a timedelta; anything else is a ValueError saying so."""
    match = _AGE.match(raw.lower())
    if match is None or int(match.group(1)) == 0:
        raise ValueError(
            f"{raw!r} is not an age: a whole number above 0 and a unit, m, h, d or w (e.g. 30d)"
        )
    try:
        age = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        age = _MAX_AGE + _MAX_AGE
    if age > _MAX_AGE:
        raise ValueError(f"{raw!r} is more than 100 years")
    return age


@dataclass(frozen=True)
class PrunedTask:
    id: str
    status: str
    ended_at: datetime
    files: int
    bytes: int


@dataclass
class PruneResult:
    """What `prune` removed (or, on a dry run, would remove) and what it kept, with why."""

    before: datetime
    dry_run: bool
    pruned: list[PrunedTask] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return sum(t.files for t in self.pruned)

    @property
    def bytes(self) -> int:
        return sum(t.bytes for t in self.pruned)


def prune(
    store: Store, before: datetime, *, dry_run: bool = False, actor: str = "cli"
) -> PruneResult:
    """Remove the tasks that ended before `before`, oldest first (see the module's docstring)."""
    store.mark_interrupted()
    result = PruneResult(before=before, dry_run=dry_run)
    for task_id, status, ended_at in _ended_before(store, before):
        files = _files(store, task_id)
        pending = sum(1 for f in files if f.pending_upload)
        if pending:
            result.kept[task_id] = (
                f"{pending} of its files still wait to be uploaded (`llmgenie artifacts sync`)"
            )
            continue
        elsewhere = [f.url for f in files if f.url != store.backend.url_for(f.key)]
        if elsewhere:  # stored before LLMGENIE_ARTIFACTS_URL changed: not ours to reach now
            result.kept[task_id] = (
                f"its files are not in the artifact store set now, e.g. {elsewhere[0]} "
                "(prune with LLMGENIE_ARTIFACTS_URL set to where they are)"
            )
            continue
        task = PrunedTask(task_id, status, ended_at, len(files), sum(f.size for f in files))
        if not dry_run:
            try:
                store.backend.delete([f.key for f in files])
            except ArtifactUnavailableError as exc:
                result.kept[task_id] = f"its files could not be removed: {exc}"
                continue
            spooled = store.spool.path(task_key(task_id))
            remove_empty_folders({spooled, *(p for p in spooled.rglob("*") if p.is_dir())})
            # the rows and the audit event together: a prune cut off here loses neither, and
            # a task another prune removed meanwhile is neither counted nor recorded twice
            recorded = store.audit_log.append(
                [_pruned_event(task, before, actor)],
                with_change=lambda s, task_id=task_id: _delete_rows(s, task_id),
            )
            if not recorded:
                continue
        result.pruned.append(task)
    return result


def _pruned_event(task: PrunedTask, before: datetime, actor: str) -> AuditEntry:
    return AuditEntry(
        "task.pruned",
        actor,
        task.id,
        None,
        {
            "status": task.status,
            "ended_at": task.ended_at.isoformat(),
            "before": before.isoformat(),
            "files": task.files,
            "bytes": task.bytes,
        },
    )


def _ended_before(store: Store, before: datetime) -> list[Row[tuple[str, str, datetime]]]:
    """(id, status, ended at) of the tasks that ended before `before`, oldest first."""
    # an interrupted task has no finish: it was last seen at its last heartbeat
    ended_at = func.coalesce(
        TaskRow.finished_at, TaskRow.heartbeat_at, TaskRow.started_at, TaskRow.created_at
    )
    return transaction(
        store.engine,
        lambda s: s.execute(
            select(TaskRow.id, TaskRow.status, ended_at)
            .where(TaskRow.status.in_(_ENDED), ended_at < before)
            .order_by(ended_at, TaskRow.id)
        ).all(),
    )


def _files(store: Store, task_id: str) -> list[Row[tuple[str, str, int, bool]]]:
    """The task's stored files: object key, URL, size, and whether it waits in the spool."""
    return transaction(
        store.engine,
        lambda s: s.execute(
            select(
                ArtifactRow.key, ArtifactRow.url, ArtifactRow.size, ArtifactRow.pending_upload
            ).where(ArtifactRow.task_id == task_id)
        ).all(),
    )


def _delete_rows(s: Session, task_id: str) -> bool:
    """Children first: no reliance on ON DELETE CASCADE (SQLite enforces it per connection).
    False when the task was no longer there (another prune removed it)."""
    for table in (ArtifactRow, FindingRow, AttemptRow, StepRow):
        s.execute(delete(table).where(table.task_id == task_id))
    return s.execute(delete(TaskRow).where(TaskRow.id == task_id)).rowcount == 1
