"""The metadata + artifact store: tasks, reports, artifacts, history, drift and the audit chain."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import Engine, delete, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from llmgenie.core import audit
from llmgenie.core.audit import AuditEntry
from llmgenie.core.models import (
    AgentReport,
    ArtifactRef,
    Plan,
    Task,
    TaskReport,
    TaskStatus,
    utcnow,
)
from llmgenie.core.settings import Settings
from llmgenie.core.storage import mapping
from llmgenie.core.storage.artifacts import (
    TASK_STEP,
    ArtifactBackend,
    ArtifactUnavailableError,
    Spool,
    artifact_key,
    sha256_hex,
    task_key,
)
from llmgenie.core.storage.db import with_retries
from llmgenie.core.storage.tables import (
    ArtifactRow,
    AttemptRow,
    AuditEventRow,
    AuditHeadRow,
    FindingRow,
    StepRow,
    TaskRow,
)

__all__ = [
    "GENESIS_HASH",
    "STEP_REPORT_FILE",
    "AmbiguousTaskIdError",
    "ArtifactFile",
    "AuditEvent",
    "Drift",
    "Store",
    "TaskListing",
    "audit_hash",
    "step_report_file",
    "target_key",
]

_log = logging.getLogger("llmgenie.storage")

#: The `prev_hash` of the first audit event.
GENESIS_HASH = "0" * 64
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


#: A step's full report (tool output, findings, notes, attempts) among its task's files.
STEP_REPORT_FILE = "output.json"


@dataclass(frozen=True)
class ArtifactFile:
    """One file to store for a task: under its step's folder, or the task's when `step_id` is
    None."""

    step_id: str | None
    name: str
    data: bytes
    content_type: str = "application/octet-stream"


@functools.cache
def _upload_pool() -> ThreadPoolExecutor:
    """Threads for a task's uploads to a bucket (boto3 clients are thread-safe)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="llmgenie-upload")


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


class AuditEvent(BaseModel):
    seq: int
    at: datetime
    kind: str
    actor: str
    task_id: str | None = None
    step_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


def _canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audit_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    task_id: str | None,
    step_id: str | None,
    data: dict[str, Any],
) -> str:
    """The link: sha256 over the previous link and every field of this event."""
    body = _canonical_json(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "kind": kind,
            "actor": actor,
            "task_id": task_id,
            "step_id": step_id,
            "data": data,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def target_key(location: str) -> str:
    """A target made comparable across runs: local paths become absolute, the rest stays."""
    if "://" in location:
        return location
    path = Path(location).expanduser()
    try:
        return str(path.resolve()) if path.exists() else location
    except OSError:
        return location


def _process_start(pid: int) -> str | None:
    """Kernel start time of a process (Linux), so a reused pid is not mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) is gone for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in {"Z", "X"}


class _Conflict(Exception):
    pass


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
        self.backend = backend
        self.spool = Spool(settings.home / "spool")
        self.stale_after = stale_after
        self.heartbeat_seconds = heartbeat_seconds
        self._beating: dict[str, threading.Event] = {}
        self._audit_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._spool_lock = threading.Lock()
        self._spooled_tasks: set[str] = set()  # running tasks already warned about, once each
        self._hostname = socket.gethostname()

    # -- sessions -------------------------------------------------------------------------
    def _tx(self, fn: Any) -> Any:
        def run() -> Any:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                return fn(session)

        return with_retries(run)

    def ping(self) -> None:
        """Raises the driver's error when the metadata database does not answer."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        for stop in self._beating.values():
            stop.set()
        self._beating.clear()
        self.engine.dispose()

    # -- tasks ----------------------------------------------------------------------------
    def task_started(self, task: Task) -> None:
        """Record the task as running here (pid, host, heartbeat); upload spooled artifacts.

        Its plan comes later (`task_planned`): a model may take a while to plan."""
        self._sync_quietly()
        now = utcnow()
        pid = os.getpid()

        def tx(s: Session) -> None:
            row = s.get(TaskRow, task.id)
            if row is None:
                row = mapping.task_row(task)
                s.add(row)
            row.status = TaskStatus.running.value
            row.target_key = target_key(task.target.location)
            row.started_at = row.started_at or now
            row.heartbeat_at = now
            row.pid = pid
            row.hostname = self._hostname
            row.process_start = _process_start(pid)

        self._tx(tx)
        self._start_heartbeat(task.id)

    def task_planned(self, task_id: str, plan: Plan) -> None:
        """Record the plan of a task already started."""

        def tx(s: Session) -> None:
            row = s.get(TaskRow, task_id)
            if row is not None:
                row.plan = plan.model_dump(mode="json")

        self._tx(tx)

    def _start_heartbeat(self, task_id: str) -> None:
        """A daemon thread beats while the task runs here; it dies with the process."""
        stop = threading.Event()
        old = self._beating.pop(task_id, None)
        if old is not None:
            old.set()
        self._beating[task_id] = stop

        def beat() -> None:
            while not stop.wait(self.heartbeat_seconds):
                try:
                    self.heartbeat(task_id)
                except Exception as exc:  # a missed beat is not worth failing the task for
                    _log.warning("heartbeat of task %s failed: %s", task_id, exc)

        threading.Thread(target=beat, name=f"llmgenie-heartbeat-{task_id[:8]}", daemon=True).start()

    def _stop_heartbeat(self, task_id: str) -> None:
        stop = self._beating.pop(task_id, None)
        if stop is not None:
            stop.set()

    def heartbeat(self, task_id: str) -> None:
        """Tell other hosts this task is still alive (`task_started` starts a thread for it)."""
        self._tx(
            lambda s: s.execute(
                update(TaskRow).where(TaskRow.id == task_id).values(heartbeat_at=utcnow())
            )
        )

    def task_finished(self, report: TaskReport) -> TaskReport:
        """Store the report's rows and files; returns it with `artifacts` filled in."""
        self._stop_heartbeat(report.task_id)
        self.put_artifacts(report.task_id, _report_files(report))
        artifacts = self.artifacts(report.task_id)
        report = report.model_copy(update={"artifacts": artifacts})
        json_ref = self.put_artifact(
            report.task_id,
            None,
            "report.json",
            report.model_dump_json(indent=2).encode(),
            "application/json",
        )
        artifacts = [a for a in artifacts if not (a.step_id is None and a.name == "report.json")]
        report = report.model_copy(update={"artifacts": [*artifacts, json_ref]})
        steps, attempts, findings = mapping.report_rows(report)

        def tx(s: Session) -> None:
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

        self._tx(tx)
        self._forget_spooled(report.task_id)
        return report

    def task_ended(self, task_id: str, status: TaskStatus, reason: str) -> None:
        """A task that ends without a report (it failed, or was interrupted): its row says so
        and its heartbeat stops. A row that is not running (or none) is left as it is."""
        self._stop_heartbeat(task_id)
        self._forget_spooled(task_id)

        def tx(s: Session) -> None:
            row = s.get(TaskRow, task_id)
            if row is None or row.status != TaskStatus.running.value:
                return
            row.status = status.value
            row.finished_at = utcnow()
            row.notes = [*(row.notes or []), f"{status.value}: {reason}"]

        self._tx(tx)

    def mark_interrupted(self) -> list[str]:
        """Rows still `running` whose process is gone become `interrupted`; returns their ids."""
        now = utcnow()

        def tx(s: Session) -> list[str]:
            rows = s.scalars(select(TaskRow).where(TaskRow.status == TaskStatus.running.value))
            gone = []
            for row in rows:
                reason = self._why_gone(row, now)
                if reason:
                    row.status = TaskStatus.interrupted.value
                    row.notes = [*(row.notes or []), f"interrupted: {reason}"]
                    gone.append(row.id)
            return gone

        return self._tx(tx)

    def _why_gone(self, row: TaskRow, now: datetime) -> str | None:
        if row.hostname == self._hostname and row.pid is not None:
            if not _pid_alive(row.pid):
                return f"process {row.pid} on {row.hostname} is gone"
            start = _process_start(row.pid)
            if row.process_start and start and start != row.process_start:
                return f"process {row.pid} on {row.hostname} is gone (pid reused)"
            return None
        seen = row.heartbeat_at or row.started_at or row.created_at
        if seen is not None and now - seen > self.stale_after:
            return f"no heartbeat from {row.hostname or 'its host'} since {seen.isoformat()}"
        return None

    # -- history --------------------------------------------------------------------------
    def list_tasks(self, limit: int = 20) -> list[TaskListing]:
        """Newest first. Rows whose process died since the store opened show as interrupted."""
        self.mark_interrupted()

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

        return self._tx(tx)

    def pruned_at(self, task_id: str) -> datetime | None:
        """When a task (an id prefix is enough) was pruned, as the audit log says; else None."""
        return self._tx(
            lambda s: s.scalar(
                select(func.max(AuditEventRow.at)).where(
                    AuditEventRow.kind == "task.pruned",
                    AuditEventRow.task_id.startswith(task_id, autoescape=True),
                )
            )
        )

    def resolve_task_id(self, prefix: str) -> str | None:
        """The full id of the task whose id starts with `prefix`; None if there is none."""
        if not prefix or not set(prefix) <= _ID_CHARS:
            return None

        def tx(s: Session) -> list[str]:
            return list(s.scalars(select(TaskRow.id).where(TaskRow.id.startswith(prefix)).limit(2)))

        ids = self._tx(tx)
        if prefix in ids:
            return prefix
        if len(ids) > 1:
            raise AmbiguousTaskIdError(f"task id prefix {prefix!r} matches more than one task")
        return ids[0] if ids else None

    def get_report(self, task_id: str) -> TaskReport | None:
        """The stored report of a task (an id prefix is enough)."""
        full = self.resolve_task_id(task_id)
        if full is None:
            return None
        self.mark_interrupted()

        def tx(s: Session) -> TaskReport | None:
            row = s.get(TaskRow, full)
            if row is None:
                return None
            return mapping.report_from_rows(
                row,
                list(s.scalars(select(StepRow).where(StepRow.task_id == full))),
                list(s.scalars(select(AttemptRow).where(AttemptRow.task_id == full))),
                list(s.scalars(select(FindingRow).where(FindingRow.task_id == full))),
                list(s.scalars(select(ArtifactRow).where(ArtifactRow.task_id == full))),
            )

        return self._tx(tx)

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

        return self._tx(tx)

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
        (ref,) = self.put_artifacts(task_id, [ArtifactFile(step_id, name, data, content_type)])
        return ref

    def put_artifacts(self, task_id: str, files: list[ArtifactFile]) -> list[ArtifactRef]:
        """Store several files of a task: uploaded at once, recorded in one transaction.

        A report's files are ~10 objects at the end of every run; one by one, each paid a
        round trip to the bucket and a transaction of its own. A file that cannot be uploaded
        is spooled, as with `put_artifact`.
        """
        if self.backend.kind == "local" or len(files) < 2:  # a folder: no round trips
            puts = [self._upload(task_id, f) for f in files]
        else:
            puts = list(_upload_pool().map(lambda f: self._upload(task_id, f), files))
        now = utcnow()

        def tx(s: Session) -> list[ArtifactRow]:
            rows = []
            for f, (key, url, digest, spool_path) in zip(files, puts, strict=True):
                step_key = f.step_id or TASK_STEP
                row = s.scalars(
                    select(ArtifactRow).where(
                        ArtifactRow.task_id == task_id,
                        ArtifactRow.step_key == step_key,
                        ArtifactRow.name == f.name,
                    )
                ).first()
                if row is None:
                    row = ArtifactRow(
                        task_id=task_id, step_key=step_key, name=f.name, created_at=now
                    )
                    s.add(row)
                row.key, row.url, row.sha256, row.size = key, url, digest, len(f.data)
                row.content_type = f.content_type
                row.pending_upload = spool_path is not None
                row.spool_path = spool_path
                row.uploaded_at = None if spool_path else now
                rows.append(row)
            s.flush()
            self._count_pending(s, task_id)
            return rows

        rows = self._tx(tx)
        audit.record_all_in(
            self,
            [
                AuditEntry(
                    "artifact.written",
                    "storage",
                    task_id,
                    f.step_id,
                    {
                        "url": row.url,
                        "sha256": row.sha256,
                        "size": row.size,
                        "pending_upload": row.pending_upload,
                    },
                )
                for f, row in zip(files, rows, strict=True)
            ],
        )
        return [mapping.artifact_ref(row) for row in rows]

    def _upload(self, task_id: str, f: ArtifactFile) -> tuple[str, str, str, str | None]:
        """(key, url, sha256, spool path or None) of one file put in the backend or the spool."""
        key = artifact_key(task_id, f.step_id, f.name)
        digest = sha256_hex(f.data)
        try:
            return key, self.backend.put(key, f.data, f.content_type, digest), digest, None
        except ArtifactUnavailableError as exc:
            spool_path = str(self.spool.put(key, f.data))
            self._say_spooled(task_id, key, exc)
            return key, self.backend.url_for(key), digest, spool_path

    def spool_folder(self, task_id: str) -> Path:
        """Where a task's files wait while the artifact store does not take them."""
        return self.spool.path(task_key(task_id))

    def _say_spooled(self, task_id: str, key: str, exc: Exception) -> None:
        """One warning per task, not one per file: a report alone is ~10 files."""
        with self._spool_lock:
            first = task_id not in self._spooled_tasks
            self._spooled_tasks.add(task_id)
        if first:
            _log.warning(
                "artifact store unavailable (%s): task %s's files wait in %s until "
                "`llmgenie artifacts sync` uploads them",
                exc,
                task_id,
                self.spool_folder(task_id),
            )
        else:
            _log.debug("spooled %s: %s", key, exc)

    def _forget_spooled(self, task_id: str) -> None:
        """The task is over: a long-lived process (the REST API) keeps no entry per task."""
        with self._spool_lock:
            self._spooled_tasks.discard(task_id)

    def artifacts(self, task_id: str) -> list[ArtifactRef]:
        def tx(s: Session) -> list[ArtifactRef]:
            rows = s.scalars(
                select(ArtifactRow).where(ArtifactRow.task_id == task_id).order_by(ArtifactRow.pk)
            )
            return [mapping.artifact_ref(r) for r in rows]

        return self._tx(tx)

    def presign(self, ref: ArtifactRef, task_id: str, expires_seconds: int = 3600) -> str:
        """An http(s) link for S3 objects (presigned); the file:// URL for a local folder."""
        if ref.pending_upload:
            return ref.url
        return self.backend.presign(artifact_key(task_id, ref.step_id, ref.name), expires_seconds)

    def read_artifact(self, task_id: str, step_id: str | None, name: str) -> bytes:
        return self.backend.get(artifact_key(task_id, step_id, name))

    @staticmethod
    def _count_pending(s: Session, task_id: str) -> None:
        count = s.scalar(
            select(func.count())
            .select_from(ArtifactRow)
            .where(ArtifactRow.task_id == task_id, ArtifactRow.pending_upload.is_(True))
        )
        s.execute(update(TaskRow).where(TaskRow.id == task_id).values(pending_uploads=count))

    def pending_count(self) -> int:
        return self._tx(
            lambda s: s.scalar(
                select(func.count())
                .select_from(ArtifactRow)
                .where(ArtifactRow.pending_upload.is_(True))
            )
        )

    def sync_pending(self) -> int:
        """Upload spooled artifacts; returns how many went up (stops at the first failure)."""
        with self._sync_lock:
            rows = self._tx(
                lambda s: list(
                    s.scalars(
                        select(ArtifactRow)
                        .where(ArtifactRow.pending_upload.is_(True))
                        .order_by(ArtifactRow.pk)
                    )
                )
            )
            if not rows:
                return 0
            reset = getattr(self.backend, "reset", None)
            if reset is not None:
                reset()
            uploaded = 0
            for row in rows:
                path = Path(row.spool_path or "")
                try:
                    data = path.read_bytes()
                except OSError as exc:
                    _log.error("spooled artifact %s is missing: %s", row.key, exc)
                    continue
                if sha256_hex(data) != row.sha256:
                    _log.error("spooled artifact %s does not match its sha256; kept", row.key)
                    continue
                try:
                    url = self.backend.put(row.key, data, row.content_type, row.sha256)
                except ArtifactUnavailableError as exc:
                    _log.warning("artifact store still unavailable: %s", exc)
                    break

                def tx(s: Session, row: ArtifactRow = row, url: str = url) -> None:
                    s.execute(
                        update(ArtifactRow)
                        .where(ArtifactRow.pk == row.pk)
                        .values(
                            url=url, pending_upload=False, spool_path=None, uploaded_at=utcnow()
                        )
                    )
                    self._count_pending(s, row.task_id)

                self._tx(tx)
                path.unlink(missing_ok=True)
                uploaded += 1
            return uploaded

    def _sync_quietly(self) -> None:
        try:
            if self.pending_count():
                n = self.sync_pending()
                _log.info("uploaded %d spooled artifacts", n)
        except Exception as exc:  # a sync problem must never stop a new task
            _log.warning("artifact sync failed: %s", exc)

    # -- audit chain ----------------------------------------------------------------------
    def append_audit(
        self,
        kind: str,
        actor: str,
        task_id: str | None,
        step_id: str | None,
        data: dict[str, Any],
        at: datetime | None = None,
    ) -> int:
        """Append one event to the hash chain; returns its sequence number."""
        (seq,) = self.append_audits([AuditEntry(kind, actor, task_id, step_id, data, at)])
        return seq

    def append_audits(
        self,
        entries: Sequence[AuditEntry],
        *,
        with_change: Callable[[Session], bool] | None = None,
    ) -> list[int]:
        """Append events to the hash chain in order, in one transaction; returns their numbers.

        A report's ~10 stored files are ~10 events: one transaction (and, on PostgreSQL, one
        wait for the chain's head lock) instead of one each.

        `with_change(session)`, when given, makes the change the events are about in that same
        transaction, first: both are stored or neither. It returns False when there was nothing
        to change (another process made it first); then no event is appended and the result is
        empty. It may run again if the chain's head moved meanwhile.
        """
        if not entries:
            return []
        now = utcnow()
        events = [
            entry._replace(data=json.loads(_canonical_json(entry.data)), at=entry.at or now)
            for entry in entries
        ]
        with self._audit_lock:
            for attempt in range(50):
                try:
                    return self._append_once(events, with_change)
                except (IntegrityError, OperationalError, _Conflict):
                    # another process appended first (or held the SQLite lock): take the new head
                    time.sleep(min(0.5, 0.005 * 2 ** min(attempt, 6)) * random.random())
            raise RuntimeError("could not append to the audit log: too much contention")

    def _append_once(
        self, events: list[AuditEntry], with_change: Callable[[Session], bool] | None = None
    ) -> list[int]:
        with Session(self.engine) as s, s.begin():
            if with_change is not None and not with_change(s):
                return []
            query = select(AuditHeadRow).where(AuditHeadRow.id == 1)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            head = s.scalars(query).first()
            first_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
            seq = first_seq
            numbers = []
            for e in events:
                seq += 1
                at = e.at or utcnow()
                digest = audit_hash(
                    prev_hash, seq, at, e.kind, e.actor, e.task_id, e.step_id, e.data
                )
                s.add(
                    AuditEventRow(
                        seq=seq,
                        at=at,
                        kind=e.kind,
                        actor=e.actor,
                        task_id=e.task_id,
                        step_id=e.step_id,
                        data=e.data,
                        prev_hash=prev_hash,
                        hash=digest,
                    )
                )
                prev_hash = digest
                numbers.append(seq)
            if head is None:
                s.add(AuditHeadRow(id=1, seq=seq, hash=prev_hash))
                s.flush()
            else:
                res = s.execute(
                    update(AuditHeadRow)
                    .where(AuditHeadRow.id == 1, AuditHeadRow.seq == first_seq)
                    .values(seq=seq, hash=prev_hash)
                )
                if res.rowcount != 1:
                    raise _Conflict
            return numbers

    def audit_events(
        self, since: datetime | None = None, batch: int = 1000
    ) -> Iterator[AuditEvent]:
        """Every audit event in chain order (from `since` on, if given), streamed in batches."""
        last = 0
        while True:

            def tx(s: Session, last: int = last) -> list[AuditEvent]:
                q = select(AuditEventRow).where(AuditEventRow.seq > last)
                if since is not None:
                    q = q.where(AuditEventRow.at >= since)
                rows = s.scalars(q.order_by(AuditEventRow.seq).limit(batch))
                return [
                    AuditEvent(
                        seq=r.seq,
                        at=r.at,
                        kind=r.kind,
                        actor=r.actor,
                        task_id=r.task_id,
                        step_id=r.step_id,
                        data=r.data or {},
                        prev_hash=r.prev_hash,
                        hash=r.hash,
                    )
                    for r in rows
                ]

            events = self._tx(tx)
            yield from events
            if len(events) < batch:
                return
            last = events[-1].seq

    def audit_head(self) -> tuple[int, str] | None:
        def tx(s: Session) -> tuple[int, str] | None:
            head = s.get(AuditHeadRow, 1)
            return (head.seq, head.hash) if head else None

        return self._tx(tx)


def step_report_file(step: AgentReport) -> ArtifactFile:
    """A step's full report as its `output.json`: stored with the finished task, and by BOSS
    earlier when a dependent step on a work pool must read it (too large to pass inline)."""
    return ArtifactFile(
        step.id, STEP_REPORT_FILE, step.model_dump_json(indent=2).encode(), "application/json"
    )


def _report_files(report: TaskReport) -> list[ArtifactFile]:
    """The files of a finished task besides report.json: each step's full result (structured
    tool output, findings, notes, attempts), its patches and documents; the Markdown and SARIF
    reports."""
    from llmgenie.core.storage import reports

    files = []
    for step in report.steps:
        files.append(step_report_file(step))
        for name, diff in reports.patches_of(step):
            files.append(ArtifactFile(step.id, f"patches/{name}", diff.encode(), "text/x-diff"))
        for name, body in reports.documents_of(step):
            files.append(ArtifactFile(step.id, name, body.encode(), "text/markdown; charset=utf-8"))
    files.append(
        ArtifactFile(
            None, "report.md", reports.markdown(report).encode(), "text/markdown; charset=utf-8"
        )
    )
    files.append(
        ArtifactFile(None, "report.sarif", reports.sarif(report).encode(), "application/sarif+json")
    )
    return files
