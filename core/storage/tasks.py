"""Task records: a task's row through its life, its stored report, history and drift.

Rows only: the files are `artifacts.py`'s, the heartbeat `liveness.py`'s, the audit events
`llmgenie.core.audit`'s; `Store` calls them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.orm import Session

from llmgenie.core.models import Plan, Task, TaskReport, TaskStatus, utcnow
from llmgenie.core.storage import mapping
from llmgenie.core.storage.db import transaction
from llmgenie.core.storage.tables import ArtifactRow, AttemptRow, FindingRow, StepRow, TaskRow

__all__ = ["AmbiguousTaskIdError", "Drift", "TaskListing", "TaskRecords", "target_key"]

_FINISHED_FOR_DRIFT = (TaskStatus.completed.value, TaskStatus.completed_with_errors.value)
_ID_CHARS = frozenset("0123456789abcdefABCDEF-_")


class AmbiguousTaskIdError(LookupError):
    """An id prefix matched more than one task."""


class Drift(BaseModel):
    """Findings of this task against the previous task on the same target, by finding id."""

    target: str
    task_id: str
    previous_task_id: str
    previous_started_at: datetime | None = None
    new: list[str] = Field(default_factory=list)
    fixed: list[str] = Field(default_factory=list)
    still_open: list[str] = Field(default_factory=list)

    def summary_line(self) -> str:
        return (
            f"since task {self.previous_task_id[:12]}: {len(self.new)} new, "
            f"{len(self.fixed)} fixed, {len(self.still_open)} still open"
        )


@dataclass(frozen=True)
class TaskListing:
    """One line of `llmgenie runs list`."""

    id: str
    task: str
    target: str
    status: TaskStatus
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    by_severity: dict[str, int] = field(default_factory=dict)
    finding_count: int = 0
    pending_uploads: int = 0


def target_key(location: str) -> str:
    """A target made comparable across runs: local paths become absolute, the rest stays."""
    if "://" in location:
        return location
    path = Path(location).expanduser()
    try:
        return str(path.resolve()) if path.exists() else location
    except OSError:
        return location


class TaskRecords:
    """The tasks table and its children (steps, attempts, findings)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- changes, each made inside a transaction the caller holds (with its audit event) ------
    @staticmethod
    def start(
        s: Session, task: Task, claim: Callable[[TaskRow], None], flow_run_id: str | None = None
    ) -> bool:
        """The task's row, running here (`claim` records the process and its first beat)."""
        row = s.get(TaskRow, task.id)
        if row is None:
            row = mapping.task_row(task)
            s.add(row)
        row.flow_run_id = flow_run_id or row.flow_run_id
        row.status = TaskStatus.running.value
        row.target_key = target_key(task.target.location)
        row.started_at = row.started_at or utcnow()
        claim(row)
        return True

    @staticmethod
    def store_report(s: Session, report: TaskReport) -> bool:
        """The report's rows: the task's, and its steps', attempts' and findings' (replaced)."""
        steps, attempts, findings = mapping.report_rows(report)
        row = s.get(TaskRow, report.task_id)
        if row is None:
            row = TaskRow(
                id=report.task_id,
                target_kind="folder",
                created_at=report.started_at or utcnow(),
                target_key=target_key(report.target),
            )
            s.add(row)
        mapping.apply_report(row, report)
        for table in (AttemptRow, FindingRow, StepRow):
            s.execute(delete(table).where(table.task_id == report.task_id))
        s.flush()
        if steps:
            s.execute(insert(StepRow), steps)
        if attempts:
            s.execute(insert(AttemptRow), attempts)
        if findings:
            s.execute(insert(FindingRow), findings)
        return True

    @staticmethod
    def end(s: Session, task_id: str, status: TaskStatus, reason: str) -> bool:
        """A running task that ends without a report; False when it is not running (or none)."""
        row = s.get(TaskRow, task_id)
        if row is None or row.status != TaskStatus.running.value:
            return False
        row.status = status.value
        row.finished_at = utcnow()
        row.notes = [*(row.notes or []), f"{status.value}: {reason}"]
        return True

    def planned(self, task_id: str, plan: Plan) -> None:
        """Record the plan of a task already started."""

        def tx(s: Session) -> None:
            row = s.get(TaskRow, task_id)
            if row is not None:
                row.plan = plan.model_dump(mode="json")

        transaction(self.engine, tx)

    # -- reads ---------------------------------------------------------------------------------
    def list(self, limit: int = 20) -> list[TaskListing]:
        """Newest first."""

        def tx(s: Session) -> list[TaskListing]:
            rows = s.scalars(
                select(TaskRow).order_by(TaskRow.created_at.desc(), TaskRow.id).limit(limit)
            )
            return [
                TaskListing(
                    id=r.id,
                    task=r.text,
                    target=r.target,
                    status=TaskStatus(r.status),
                    created_at=r.created_at,
                    started_at=r.started_at,
                    finished_at=r.finished_at,
                    by_severity=dict((r.summary or {}).get("by_severity", {})),
                    finding_count=r.finding_count,
                    pending_uploads=r.pending_uploads,
                )
                for r in rows
            ]

        return transaction(self.engine, tx)

    def resolve_id(self, prefix: str) -> str | None:
        """The full id of the task whose id starts with `prefix`; None if there is none."""
        if not prefix or not set(prefix) <= _ID_CHARS:
            return None

        def tx(s: Session) -> list[str]:
            return list(s.scalars(select(TaskRow.id).where(TaskRow.id.startswith(prefix)).limit(2)))

        ids = transaction(self.engine, tx)
        if prefix in ids:
            return prefix
        if len(ids) > 1:
            raise AmbiguousTaskIdError(f"task id prefix {prefix!r} matches more than one task")
        return ids[0] if ids else None

    def report(self, task_id: str) -> TaskReport | None:
        """The stored report of a task, by its full id."""

        def tx(s: Session) -> TaskReport | None:
            row = s.get(TaskRow, task_id)
            if row is None:
                return None
            return mapping.report_from_rows(
                row,
                list(s.scalars(select(StepRow).where(StepRow.task_id == task_id))),
                list(s.scalars(select(AttemptRow).where(AttemptRow.task_id == task_id))),
                list(s.scalars(select(FindingRow).where(FindingRow.task_id == task_id))),
                list(s.scalars(select(ArtifactRow).where(ArtifactRow.task_id == task_id))),
            )

        return transaction(self.engine, tx)

    def drift(self, report: TaskReport) -> Drift | None:
        """New / fixed / still-open finding ids against the previous task on the same target."""

        def tx(s: Session) -> Drift | None:
            row = s.get(TaskRow, report.task_id)
            key = row.target_key if row and row.target_key else target_key(report.target)
            before = row.created_at if row else (report.started_at or utcnow())
            prev = s.scalars(
                select(TaskRow)
                .where(
                    TaskRow.target_key == key,
                    TaskRow.id != report.task_id,
                    TaskRow.status.in_(_FINISHED_FOR_DRIFT),
                    TaskRow.created_at <= before,
                )
                .order_by(TaskRow.created_at.desc())
                .limit(1)
            ).first()
            if prev is None:
                return None
            prev_ids = list(
                s.scalars(
                    select(FindingRow.finding_id)
                    .where(FindingRow.task_id == prev.id, FindingRow.step_id.is_(None))
                    .order_by(FindingRow.position)
                )
            )
            cur_ids = list(dict.fromkeys(f.id for f in report.findings))
            prev_set, cur_set = set(prev_ids), set(cur_ids)
            return Drift(
                target=report.target,
                task_id=report.task_id,
                previous_task_id=prev.id,
                previous_started_at=prev.started_at,
                new=[i for i in cur_ids if i not in prev_set],
                fixed=[i for i in dict.fromkeys(prev_ids) if i not in cur_set],
                still_open=[i for i in cur_ids if i in prev_set],
            )

        return transaction(self.engine, tx)
