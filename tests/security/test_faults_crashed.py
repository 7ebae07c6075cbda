"""Issue 19 point 9: a run killed with SIGKILL leaves no flow run Running in Prefect for ever.

A real `llmgenie run` is killed once a specialist's flow run is Running (read back from the
session's Prefect API); the next command (`llmgenie runs list`) finds the task interrupted and
sets BOSS's flow run and its children Crashed.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

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


def _running_boss(db: Path, proc: subprocess.Popen[str]) -> str | None:
    assert proc.poll() is None, proc.communicate()[1][-2000:]
    if not db.exists():
        return None
    try:
        with sqlite3.connect(db) as conn:
            row = conn.execute(
                "SELECT flow_run_id FROM tasks WHERE status = 'running' AND flow_run_id IS NOT NULL"
            ).fetchone()
    except sqlite3.OperationalError:  # the schema is being created
        return None
    return row[0] if row else None


def _children(boss_id: str) -> list:  # type: ignore[type-arg]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[boss_id])  # type: ignore[list-item]
            )
        )


def _state(run_id: str) -> str:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return state.type.value if state else "NONE"


def test_sigkilled_run_has_its_flow_runs_crashed_by_the_next_command(tmp_path: Path) -> None:
    target = tmp_path / "big"
    for i in range(40):  # long enough to be killed while its steps run
        shutil.copytree(EXAMPLE, target / f"shop{i}")
    db = tmp_path / "meta.db"
    env = {
        **os.environ,
        "LLMGENIE_HOME": str(tmp_path / "home"),
        "LLMGENIE_DATABASE_URL": f"sqlite:///{db}",
    }

    proc = _llmgenie(env, "run", "audit the task", "--target", str(target), "--format", "json")
    try:
        boss_id = wait_until(lambda: _running_boss(db, proc), "the task row's BOSS flow run")
        # the event: a specialist's flow run is Running under BOSS
        wait_until(
            lambda: [c for c in _children(boss_id) if c.state and c.state.type.value == "RUNNING"],
            "a specialist flow run Running under BOSS",
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    runs = [boss_id, *(str(c.id) for c in _children(boss_id))]
    assert _state(boss_id) == "RUNNING"  # Prefect does not notice a killed process

    listed = _llmgenie(env, "runs", "list")
    out, err = listed.communicate(timeout=120)
    assert listed.returncode == 0, err[-2000:]
    assert "interrupted" in out

    states = {run_id: _state(run_id) for run_id in runs}
    assert len(runs) > 1
    assert set(states.values()) <= {"CRASHED", "COMPLETED", "FAILED", "CANCELLED"}, states
    assert states[boss_id] == "CRASHED"
    assert "RUNNING" not in states.values()
