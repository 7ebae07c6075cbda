"""A task's stored files: uploaded together, recorded in the metadata database, spooled and synced.

Each file goes to the artifact backend (`backends.py`) under `tasks/{task_id}/{step_id}/{name}`
and gets a row (URL, SHA-256, size) and an `artifact.written` audit event. A file the backend
does not take waits in the spool under `LLMGENIE_HOME/spool/` with the same key until
`sync_pending` uploads it (every new task tries; so does `llmgenie artifacts sync`).
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from llmgenie.core import audit
from llmgenie.core.models import AgentReport, ArtifactRef, TaskReport, utcnow
from llmgenie.core.render import render_report_markdown, render_report_sarif
from llmgenie.core.storage import mapping
from llmgenie.core.storage.backends import (
    TASK_STEP,
    ArtifactBackend,
    ArtifactUnavailableError,
    artifact_key,
    atomic_write,
    sha256_hex,
    task_key,
)
from llmgenie.core.storage.db import transaction
from llmgenie.core.storage.tables import ArtifactRow, TaskRow

if TYPE_CHECKING:
    from llmgenie.core.audit import Anchor, AuditEntry

__all__ = [
    "MANIFEST_FILE",
    "STEP_REPORT_FILE",
    "ArtifactFile",
    "ArtifactFiles",
    "Spool",
    "documents_of",
    "patches_of",
    "report_files",
    "step_report_file",
]

_log = logging.getLogger("llmgenie.storage")
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")

#: A step's full report (tool output, findings, notes, attempts) among its task's files.
STEP_REPORT_FILE = "output.json"
#: A finished task's list of files and its audit anchor, stored last among them.
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class ArtifactFile:
    """One file to store for a task: under its step's folder, or the task's when `step_id` is
    None."""

    step_id: str | None
    name: str
    data: bytes
    content_type: str = "application/octet-stream"


class Spool:
    """Local copies of objects the artifact store could not take yet (same key layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def put(self, key: str, data: bytes) -> Path:
        path = self.path(key)
        atomic_write(path, data)
        return path

    def path(self, key: str) -> Path:
        """Where the copy of `key` is (or a folder of them, for a prefix)."""
        return self.root.joinpath(*key.split("/"))


@functools.cache
def _upload_pool() -> ThreadPoolExecutor:
    """Threads for a task's uploads to a bucket (boto3 clients are thread-safe)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="llmgenie-upload")


class ArtifactFiles:
    """The files of tasks: backend, rows, audit events, spool and sync."""

    def __init__(
        self,
        engine: Engine,
        backend: ArtifactBackend,
        spool: Spool,
        record: Callable[[list[AuditEntry]], None],
    ) -> None:
        self.engine = engine
        self.backend = backend
        self.spool = spool
        self._record = record
        self._sync_lock = threading.Lock()
        self._spool_lock = threading.Lock()
        self._spooled_tasks: set[str] = set()  # running tasks already warned about, once each

    def put_many(self, task_id: str, files: list[ArtifactFile]) -> list[ArtifactRef]:
        """Store several files of a task: uploaded at once, recorded in one transaction.

        A report's files are ~10 objects at the end of every run; one by one, each paid a
        round trip to the bucket and a transaction of its own. A file that cannot be uploaded
        is spooled.
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
            _count_pending(s, task_id)
            return rows

        rows = transaction(self.engine, tx)
        self._record(
            [
                audit.AuditEntry(
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
            ]
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

    def put_manifest(self, task_id: str, anchor: Anchor | None) -> ArtifactRef:
        """The task's files (name, sha256, size) and its audit anchor, stored last."""
        files = [
            {"step_id": a.step_id, "name": a.name, "sha256": a.sha256, "size": a.size}
            for a in self.list(task_id)
            if not (a.step_id is None and a.name == MANIFEST_FILE)
        ]
        body = {
            "task_id": task_id,
            "files": files,
            "audit_anchor": anchor.as_json() if anchor else None,
        }
        data = json.dumps(body, indent=2).encode()
        (ref,) = self.put_many(
            task_id, [ArtifactFile(None, MANIFEST_FILE, data, "application/json")]
        )
        return ref

    def manifest_anchor(self, task_id: str) -> Anchor | None:
        """The audit anchor a task's stored manifest records; None when there is no manifest.
        Raises when the artifact store cannot be read or the manifest is not one."""
        key = artifact_key(task_id, None, MANIFEST_FILE)
        pending = transaction(
            self.engine,
            lambda s: s.scalar(
                select(ArtifactRow.spool_path).where(
                    ArtifactRow.key == key, ArtifactRow.pending_upload.is_(True)
                )
            ),
        )
        try:
            data = Path(pending).read_bytes() if pending else self.backend.get(key)
        except FileNotFoundError:
            return None
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in {"NoSuchKey", "404"}:  # botocore's ClientError for a missing object
                return None
            raise
        try:
            return audit.Anchor.from_json(json.loads(data).get("audit_anchor"))
        except (ValueError, AttributeError) as exc:
            raise ValueError(f"{key} is not a manifest ({exc})") from None

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

    def forget_spooled(self, task_id: str) -> None:
        """The task is over: a long-lived process (the REST API) keeps no entry per task."""
        with self._spool_lock:
            self._spooled_tasks.discard(task_id)

    def list(self, task_id: str) -> list[ArtifactRef]:
        def tx(s: Session) -> list[ArtifactRef]:
            rows = s.scalars(
                select(ArtifactRow).where(ArtifactRow.task_id == task_id).order_by(ArtifactRow.pk)
            )
            return [mapping.artifact_ref(r) for r in rows]

        return transaction(self.engine, tx)

    def presign(self, ref: ArtifactRef, task_id: str, expires_seconds: int = 3600) -> str:
        """An http(s) link for S3 objects (presigned); the file:// URL for a local folder."""
        if ref.pending_upload:
            return ref.url
        return self.backend.presign(artifact_key(task_id, ref.step_id, ref.name), expires_seconds)

    def read(self, task_id: str, step_id: str | None, name: str) -> bytes:
        return self.backend.get(artifact_key(task_id, step_id, name))

    def pending_count(self) -> int:
        return transaction(
            self.engine,
            lambda s: s.scalar(
                select(func.count())
                .select_from(ArtifactRow)
                .where(ArtifactRow.pending_upload.is_(True))
            ),
        )

    def sync_pending(self) -> int:
        """Upload spooled artifacts; returns how many went up (stops at the first failure)."""
        with self._sync_lock:
            rows = transaction(
                self.engine,
                lambda s: list(
                    s.scalars(
                        select(ArtifactRow)
                        .where(ArtifactRow.pending_upload.is_(True))
                        .order_by(ArtifactRow.pk)
                    )
                ),
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
                    _count_pending(s, row.task_id)

                transaction(self.engine, tx)
                path.unlink(missing_ok=True)
                uploaded += 1
            return uploaded

    def sync_quietly(self) -> None:
        """`sync_pending` when anything waits; a problem is logged, never raised."""
        try:
            if self.pending_count():
                n = self.sync_pending()
                _log.info("uploaded %d spooled artifacts", n)
        except Exception as exc:  # a sync problem must never stop a new task
            _log.warning("artifact sync failed: %s", exc)


def _count_pending(s: Session, task_id: str) -> None:
    count = s.scalar(
        select(func.count())
        .select_from(ArtifactRow)
        .where(ArtifactRow.task_id == task_id, ArtifactRow.pending_upload.is_(True))
    )
    s.execute(update(TaskRow).where(TaskRow.id == task_id).values(pending_uploads=count))


def step_report_file(step: AgentReport) -> ArtifactFile:
    """A step's full report as its `output.json`: stored with the finished task, and by BOSS
    earlier when a dependent step on a work pool must read it (too large to pass inline)."""
    return ArtifactFile(
        step.id, STEP_REPORT_FILE, step.model_dump_json(indent=2).encode(), "application/json"
    )


def report_files(report: TaskReport) -> list[ArtifactFile]:
    """The files of a finished task besides report.json and the manifest: each step's full
    result (structured tool output, findings, notes, attempts), its patches and documents; the
    Markdown and SARIF reports."""
    files = []
    for step in report.steps:
        files.append(step_report_file(step))
        for name, diff in patches_of(step):
            files.append(ArtifactFile(step.id, f"patches/{name}", diff.encode(), "text/x-diff"))
        for name, body in documents_of(step):
            files.append(ArtifactFile(step.id, name, body.encode(), "text/markdown; charset=utf-8"))
    files.append(
        ArtifactFile(
            None,
            "report.md",
            render_report_markdown(report).encode(),
            "text/markdown; charset=utf-8",
        )
    )
    files.append(
        ArtifactFile(
            None, "report.sarif", render_report_sarif(report).encode(), "application/sarif+json"
        )
    )
    return files


def patches_of(step: AgentReport) -> Iterator[tuple[str, str]]:
    """(file name, unified diff) for each patch in `step.output["patches"]`.

    Accepted shapes: a mapping name → diff, or a list of diffs / of objects with a diff
    (`diff` or `patch`) and a name (`name`, `file` or `path`).
    """
    patches = step.output.get("patches") if isinstance(step.output, dict) else None
    if not patches:
        return
    items: list[tuple[str | None, Any]]
    if isinstance(patches, dict):
        items = list(patches.items())
    elif isinstance(patches, list):
        items = []
        for p in patches:
            if isinstance(p, dict):
                name = p.get("name") or p.get("file") or p.get("path")
                items.append((name, p.get("diff") or p.get("patch")))
            else:
                items.append((None, p))
    else:
        return
    seen: set[str] = set()
    for i, (name, diff) in enumerate(items, 1):
        if not isinstance(diff, str) or not diff:
            continue
        base = _SAFE_NAME.sub("_", str(name)).strip("._") if name else f"patch-{i}"
        base = base or f"patch-{i}"
        fname = base if base.endswith((".diff", ".patch")) else f"{base}.diff"
        while fname in seen:
            fname = f"{i}-{fname}"
        seen.add(fname)
        yield fname, diff


def documents_of(step: AgentReport) -> Iterator[tuple[str, str]]:
    """(file name, Markdown) for the documents a step wrote: `output["catalogue_md"]` as
    `catalogue.md` and each `output["runbooks"][service]` as `runbooks/<service>.md`."""
    output = step.output if isinstance(step.output, dict) else {}
    catalogue = output.get("catalogue_md")
    if isinstance(catalogue, str) and catalogue:
        yield "catalogue.md", catalogue
    runbooks = output.get("runbooks")
    if isinstance(runbooks, dict):
        for service, text in sorted(runbooks.items()):
            if isinstance(text, str) and text:
                yield (
                    f"runbooks/{_SAFE_NAME.sub('-', str(service)).strip('-') or 'service'}.md",
                    text,
                )
