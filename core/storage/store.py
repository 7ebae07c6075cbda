"""The store: one face over task records, liveness, artifact files and the audit log.

Each part lives in its own module (`tasks`, `liveness`, `artifacts`, `llmgenie.core.audit`);
`Store` holds one of each for a (database, artifact store) pair and does the few things that
take several of them in order: a task starts (its row, its first beat, its `task.started`
event), finishes (its files, its rows and `task.finished` event, its manifest) or ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from llmgenie.core import audit
from llmgenie.core.models import ArtifactRef, Plan, Task, TaskReport, TaskStatus
from llmgenie.core.settings import Settings
from llmgenie.core.storage.artifacts import (
    MANIFEST_FILE,
    ArtifactFile,
    ArtifactFiles,
    Spool,
    report_files,
)
from llmgenie.core.storage.backends import ArtifactBackend
from llmgenie.core.storage.db import database_unreachable, db_error_line, transaction
from llmgenie.core.storage.liveness import Liveness
from llmgenie.core.storage.report_spool import ReportSpool
from llmgenie.core.storage.tasks import Drift, TaskListing, TaskRecords

__all__ = ["Store"]

_log = logging.getLogger("llmgenie.storage")

T = TypeVar("T")


class Store:
    """Tasks and reports in the metadata database, their files in the artifact store."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        backend: ArtifactBackend,
        *,
        stale_after: timedelta = timedelta(minutes=10),
        heartbeat_seconds: float = 60.0,
    ) -> None:
        self.settings = settings
        self.engine = engine
        key = settings.audit_key.get_secret_value() if settings.audit_key else None
        self.audit_log = audit.AuditLog(engine, key)
        self.records = TaskRecords(engine)
        self.liveness = Liveness(
            engine, stale_after=stale_after, heartbeat_seconds=heartbeat_seconds
        )
        self.reports = ReportSpool(settings.home / "spool" / "reports")
        self.files = ArtifactFiles(
            engine,
            backend,
            Spool(settings.home / "spool"),
            lambda entries: audit.record_all_in(self, entries),
        )

    @property
    def backend(self) -> ArtifactBackend:
        return self.files.backend

    @property
    def spool(self) -> Spool:
        return self.files.spool

    def _tx(self, fn: Callable[[Session], T]) -> T:
        return transaction(self.engine, fn)

    def ping(self) -> None:
        """Raises the driver's error when the metadata database does not answer."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.liveness.stop_all()
        self.engine.dispose()

    # -- a task's life: several parts, in order ----------------------------------------------
    def task_started(self, task: Task, flow_run_id: str | None = None) -> None:
        """Record the task as running here (pid, host, heartbeat); upload spooled artifacts.

        `flow_run_id` is its BOSS flow run: a task found interrupted later has that run (and its
        children) set to Crashed. Its plan comes later (`task_planned`): a model may take a
        while to plan."""
        self.files.sync_quietly()
        event = self._event(
            "task.started",
            task.caller.name,
            task.id,
            {"task": task.text, "target": task.target.location, "role": task.caller.role},
        )
        self.audit_log.append(
            [event],
            with_change=lambda s: self.records.start(s, task, self.liveness.claim, flow_run_id),
            anchor_task=task.id,
        )
        self.liveness.start(task.id)
        self._sync_reports_quietly()

    def task_planned(self, task_id: str, plan: Plan) -> None:
        """Record the plan of a task already started."""
        self.records.planned(task_id, plan)

    def task_finished(self, report: TaskReport) -> TaskReport:
        """Store the report's rows and files; returns it with `artifacts` filled in.

        Its `task.finished` event is appended with its rows and becomes its audit anchor, which
        the manifest, stored last, records too. When the metadata database does not answer, the
        report is spooled instead (`report_spooled` says where) and returned as it came: the
        next task, or `sync_reports`, stores it."""
        self.liveness.stop(report.task_id)
        try:
            return self._store_finished(report)
        except DBAPIError as exc:
            if not database_unreachable(exc):
                raise
            path = self.reports.put(report)
            _log.warning(
                "the metadata database did not answer; the report of task %s waits in %s: %s",
                report.task_id,
                path,
                db_error_line(exc),
            )
            return report

    def report_spooled(self, task_id: str) -> Path | None:
        """Where a task's report waits for the metadata database, if it does."""
        path = self.reports.path(task_id)
        return path if path.exists() else None

    def pending_reports(self) -> int:
        return self.reports.count()

    def sync_reports(self) -> int:
        """Store the spooled reports as their runs would have; returns how many were stored.

        Stops at the first the database refuses (raising its error); the rest wait."""
        stored = 0
        for path, report in self.reports.pending():
            self._store_finished(report)
            path.unlink(missing_ok=True)
            stored += 1
        return stored

    def _sync_reports_quietly(self) -> None:
        try:
            n = self.sync_reports()
        except Exception as exc:
            _log.warning("spooled reports not stored yet: %s", exc)
            return
        if n:
            _log.info("stored %d spooled reports", n)

    def _store_finished(self, report: TaskReport) -> TaskReport:
        task_id = report.task_id
        self.files.put_many(task_id, report_files(report))
        artifacts = [
            a
            for a in self.files.list(task_id)
            if not (a.step_id is None and a.name in {"report.json", MANIFEST_FILE})
        ]
        report = report.model_copy(update={"artifacts": artifacts})
        (json_ref,) = self.files.put_many(
            task_id,
            [
                ArtifactFile(
                    None,
                    "report.json",
                    report.model_dump_json(indent=2).encode(),
                    "application/json",
                )
            ],
        )
        report = report.model_copy(update={"artifacts": [*artifacts, json_ref]})
        event = self._event(
            "task.finished",
            "storage",
            task_id,
            {"status": report.status.value, "findings": len(report.findings)},
        )
        self.audit_log.append(
            [event],
            with_change=lambda s: self.records.store_report(s, report),
            anchor_task=task_id,
        )
        manifest = self.files.put_manifest(task_id, self.audit_log.anchor_of(task_id))
        self.files.forget_spooled(task_id)
        return report.model_copy(update={"artifacts": [*report.artifacts, manifest]})

    def task_ended(self, task_id: str, status: TaskStatus, reason: str) -> None:
        """A task that ends without a report (it failed, or was interrupted): its row says so
        and its heartbeat stops. A row that is not running (or none) is left as it is."""
        self.liveness.stop(task_id)
        self.files.forget_spooled(task_id)
        event = self._event(
            "task.ended", "storage", task_id, {"status": status.value, "reason": reason}
        )
        self.audit_log.append(
            [event],
            with_change=lambda s: self.records.end(s, task_id, status, reason),
            anchor_task=task_id,
        )

    def _event(self, kind: str, actor: str, task_id: str, data: dict[str, Any]) -> audit.AuditEntry:
        keep = self.settings.audit_prompts
        return audit.AuditEntry(kind, actor, task_id, None, audit.mask(data, keep_prompts=keep))

    # -- liveness -------------------------------------------------------------------------
    def heartbeat(self, task_id: str) -> None:
        """Tell other hosts this task is still alive (`task_started` starts a thread for it)."""
        self.liveness.beat(task_id)

    def mark_interrupted(self) -> list[str]:
        """Rows still `running` whose process is gone become `interrupted`; returns their ids."""
        return self.liveness.mark_interrupted()

    # -- history --------------------------------------------------------------------------
    def list_tasks(self, limit: int = 20) -> list[TaskListing]:
        """Newest first. Rows whose process died since the store opened show as interrupted."""
        self.mark_interrupted()
        return self.records.list(limit)

    def resolve_task_id(self, prefix: str) -> str | None:
        """The full id of the task whose id starts with `prefix`; None if there is none."""
        return self.records.resolve_id(prefix)

    def get_report(self, task_id: str) -> TaskReport | None:
        """The stored report of a task (an id prefix is enough)."""
        full = self.resolve_task_id(task_id)
        if full is None:
            return None
        self.mark_interrupted()
        return self.records.report(full)

    def drift(self, report: TaskReport) -> Drift | None:
        """New / fixed / still-open finding ids against the previous task on the same target."""
        return self.records.drift(report)

    def pruned_at(self, task_id: str) -> datetime | None:
        """When a task (an id prefix is enough) was pruned, as the audit log says; else None."""
        return self.audit_log.pruned_at(task_id)

    # -- artifacts ------------------------------------------------------------------------
    def put_artifact(
        self,
        task_id: str,
        step_id: str | None,
        name: str,
        data: bytes,
        content_type: str = "application/octet-stream",
    ) -> ArtifactRef:
        """Store a file under `tasks/{task_id}/{step_id}/{name}`; spool it if the store is down."""
        (ref,) = self.files.put_many(task_id, [ArtifactFile(step_id, name, data, content_type)])
        return ref

    def put_artifacts(self, task_id: str, files: list[ArtifactFile]) -> list[ArtifactRef]:
        """Store several files of a task: uploaded at once, recorded in one transaction."""
        return self.files.put_many(task_id, files)

    def artifacts(self, task_id: str) -> list[ArtifactRef]:
        return self.files.list(task_id)

    def read_artifact(self, task_id: str, step_id: str | None, name: str) -> bytes:
        return self.files.read(task_id, step_id, name)

    def presign(self, ref: ArtifactRef, task_id: str, expires_seconds: int = 3600) -> str:
        """An http(s) link for S3 objects (presigned); the file:// URL for a local folder."""
        return self.files.presign(ref, task_id, expires_seconds)

    def spool_folder(self, task_id: str) -> Path:
        """Where a task's files wait while the artifact store does not take them."""
        return self.files.spool_folder(task_id)

    def pending_count(self) -> int:
        return self.files.pending_count()

    def sync_pending(self) -> int:
        """Upload spooled artifacts; returns how many went up (stops at the first failure)."""
        return self.files.sync_pending()

    # -- audit ----------------------------------------------------------------------------
    def audit_events(self, since: datetime | None = None) -> Iterator[audit.AuditEvent]:
        """Every audit event in chain order (from `since` on, if given)."""
        return self.audit_log.events(since=since)
