"""Issue 19 point 9: PostgreSQL cut mid-run loses nothing and shows no traceback.

A real `llmgenie run` on a real PostgreSQL database: once the task's plan is recorded, the
database stops taking connections (ALLOW_CONNECTIONS false, its backends terminated). The run
still ends, prints its report and one line saying where the report waits; when the database
is back, `llmgenie artifacts sync` stores the task, its steps and findings as the run would
have.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from llmgenie.core.models import TaskReport, TaskStatus
from tests.support.postgres import ADMIN_DSN
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"


def _llmgenie(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "llmgenie", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def _planned(url: str, proc: subprocess.Popen[str]) -> str | None:
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    try:
        with _connect(url) as conn:
            row = conn.execute(
                "SELECT id FROM tasks WHERE status = 'running' AND plan IS NOT NULL"
            ).fetchone()
    except psycopg.errors.UndefinedTable:  # the schema is being created
        return None
    return row[0] if row else None


def _allow_connections(name: str, allow: bool) -> None:
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


def test_database_cut_mid_run_spools_the_report_and_sync_stores_it(
    fresh_postgres_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "big"
    for i in range(40):  # steps that run for a while after the plan is recorded
        shutil.copytree(EXAMPLE, target / f"shop{i}")
    home = tmp_path / "home"
    env = {**os.environ, "LLMGENIE_HOME": str(home), "LLMGENIE_DATABASE_URL": fresh_postgres_url}
    name = fresh_postgres_url.rsplit("/", 1)[1]

    proc = _llmgenie(env, "run", "audit the task", "--target", str(target), "--format", "json")
    try:
        task_id = wait_until(lambda: _planned(fresh_postgres_url, proc), "the task's plan stored")
        _allow_connections(name, False)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        _allow_connections(name, True)

    assert proc.returncode == 0, err[-3000:]
    report = TaskReport.model_validate_json(out)
    assert report.task_id == task_id and report.steps and report.findings
    assert "Traceback" not in err, err[-3000:]
    spooled = home / "spool" / "reports" / f"{task_id}.json"
    lines = [line for line in err.splitlines() if line.startswith("llmgenie: ")]
    assert lines == [
        "llmgenie: the metadata database did not answer at the end of the run; the report "
        f"waits in {spooled} until `llmgenie artifacts sync` stores it (each new run tries)"
    ], err[-3000:]
    assert spooled.exists()
    with _connect(fresh_postgres_url) as conn:  # back, but nothing of the end is stored yet
        assert conn.execute("SELECT count(*) FROM steps").fetchone()[0] == 0

    sync = _llmgenie(env, "artifacts", "sync")
    out, err = sync.communicate(timeout=120)
    assert sync.returncode == 0, err[-3000:]
    assert "stored 1 of 1 spooled reports" in out
    assert not spooled.exists()

    with _connect(fresh_postgres_url) as conn:
        status, count = conn.execute(
            "SELECT status, finding_count FROM tasks WHERE id = %s", (task_id,)
        ).fetchone()
        steps = conn.execute(
            "SELECT count(*) FROM steps WHERE task_id = %s", (task_id,)
        ).fetchone()[0]
    assert status == report.status.value != TaskStatus.interrupted.value
    assert count == len(report.findings) and steps == len(report.steps)

    shown = _llmgenie(env, "runs", "show", task_id, "--format", "json")
    out, err = shown.communicate(timeout=120)
    assert shown.returncode == 0, err[-3000:]
    again = TaskReport.model_validate_json(out)
    assert {f.id for f in again.findings} == {f.id for f in report.findings}
    audit = _llmgenie(env, "audit", "verify")
    out, err = audit.communicate(timeout=120)
    assert audit.returncode == 0, out + err[-3000:]
