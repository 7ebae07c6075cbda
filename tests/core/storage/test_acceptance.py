"""Issue 5 acceptance: `llmgenie run` against PostgreSQL + S3, and a run killed mid-way.

These start the real console script in a subprocess (the session's Prefect API, a real
PostgreSQL database, the moto S3 endpoint) and look at what it left behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import psycopg
import pytest

from llmgenie.core.models import TaskReport, TaskStatus
from llmgenie.core.settings import Settings
from llmgenie.core.storage import close_stores, open_store
from tests.support.postgres import truncate_tables

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop"


def _pg(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _run(env: dict[str, str], target: Path, *extra: str, **kw) -> subprocess.Popen:  # type: ignore[no-untyped-def, type-arg]
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmgenie",
            "run",
            "audit the task",
            "--target",
            str(target),
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def _env(tmp_path: Path, db_url: str, artifacts_url: str | None = None) -> dict[str, str]:
    env = {**os.environ, "LLMGENIE_HOME": str(tmp_path / "home"), "LLMGENIE_DATABASE_URL": db_url}
    if artifacts_url:
        env["LLMGENIE_ARTIFACTS_URL"] = artifacts_url
    return env


def test_run_leaves_rows_in_postgres_and_objects_in_the_bucket(
    postgres_url: str, s3_bucket: str, tmp_path: Path
) -> None:
    truncate_tables(postgres_url)
    env = _env(tmp_path, postgres_url, f"s3://{s3_bucket}/runs")
    proc = _run(env, EXAMPLE, "--format", "json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    report = TaskReport.model_validate_json(out)

    with _pg(postgres_url) as conn:
        status, n = conn.execute(
            "SELECT status, finding_count FROM tasks WHERE id = %s", (report.task_id,)
        ).fetchone()
        assert status == report.status.value and n == len(report.findings) > 0
        rows = conn.execute(
            "SELECT count(*) FROM findings WHERE task_id = %s AND step_id IS NULL",
            (report.task_id,),
        ).fetchone()[0]
        assert rows == len(report.findings)
        steps = conn.execute(
            "SELECT count(*) FROM steps WHERE task_id = %s", (report.task_id,)
        ).fetchone()[0]
        assert steps == len(report.steps)
        stored = dict(
            conn.execute(
                "SELECT name, sha256 FROM artifacts WHERE task_id = %s AND step_key = '_task'",
                (report.task_id,),
            ).fetchall()
        )

    names = {a.name for a in report.artifacts if a.step_id is None}
    assert {"report.json", "report.md", "report.sarif"} <= names
    s3 = boto3.client("s3")
    for ref in report.artifacts:
        assert ref.url.startswith(f"s3://{s3_bucket}/runs/tasks/{report.task_id}/")
        assert len(ref.sha256) == 64 and not ref.pending_upload
        key = ref.url.split(f"s3://{s3_bucket}/", 1)[1]
        body = s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == ref.sha256
        if ref.step_id is None:
            assert stored[ref.name] == ref.sha256


def _big_target(tmp_path: Path, copies: int = 40) -> Path:
    """The example shop, many times over: a run long enough to be killed in the middle."""
    root = tmp_path / "big"
    for i in range(copies):
        shutil.copytree(EXAMPLE, root / f"shop{i}")
    return root


def _wait_for_running(settings: Settings, proc: subprocess.Popen, timeout: float = 240) -> str:  # type: ignore[type-arg]
    store = open_store(settings)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            running = [r for r in store.list_tasks() if r.status is TaskStatus.running]
            if running:
                return running[0].id
            time.sleep(0.05)
    finally:
        close_stores()
    raise AssertionError("the run never recorded a running task")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_mid_run_leaves_a_consistent_database(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "postgresql":
        db_url = request.getfixturevalue("postgres_url")
        truncate_tables(db_url)
    else:
        db_url = f"sqlite:///{tmp_path / 'meta.db'}"
    env = _env(tmp_path, db_url)
    settings = Settings(home=tmp_path / "home", database_url=db_url)
    target = _big_target(tmp_path)

    proc = _run(env, target, "--format", "json")
    task_id = _wait_for_running(settings, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    store = open_store(settings)  # a later process opens the store: the dead run is marked
    try:
        [row] = [r for r in store.list_tasks() if r.id == task_id]
        assert row.status is TaskStatus.interrupted
        report = store.get_report(task_id)
        assert report is not None and report.status is TaskStatus.interrupted
        assert any("interrupted" in n for n in report.notes)
        # Consistent: no half-written report (steps and findings are one transaction) …
        assert report.steps == [] and report.findings == []
        # … every artifact row names a file that exists with its recorded checksum …
        for ref in report.artifacts:
            data = store.read_artifact(task_id, ref.step_id, ref.name)
            assert hashlib.sha256(data).hexdigest() == ref.sha256
        # … and the audit chain is intact.
        from llmgenie.core import audit

        assert audit.verify(store).ok
    finally:
        close_stores()

    proc = _run(env, EXAMPLE, "--format", "json")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    second = TaskReport.model_validate_json(out)
    assert second.status is TaskStatus.completed and second.findings
    store = open_store(settings)
    try:
        statuses = {r.id: r.status for r in store.list_tasks()}
        assert statuses == {task_id: TaskStatus.interrupted, second.task_id: TaskStatus.completed}
    finally:
        close_stores()
