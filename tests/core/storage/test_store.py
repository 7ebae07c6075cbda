"""The metadata store on SQLite and PostgreSQL: reports round-trip, history, drift, liveness."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from datetime import timedelta
from operator import not_
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from llmgenie.core.models import Plan, Step, TaskStatus, utcnow
from llmgenie.core.settings import Settings
from llmgenie.core.storage import AmbiguousTaskIdError, Store, close_stores, open_store
from llmgenie.core.storage.tables import FindingRow, TaskRow
from tests.support.cli import run_cli
from tests.support.reports import make_finding, make_report, make_task
from tests.support.waiting import wait_until


def test_report_round_trips_through_rows(store: Store) -> None:
    task = make_task()
    store.task_started(task)
    stored = store.task_finished(make_report(task))

    again = store.get_report(task.id)
    assert again == stored
    assert [s.id for s in again.steps] == ["security", "devops"]
    assert again.steps[0].attempts[0].error_class == "server_error"
    assert again.steps[0].attempts[0].tokens.prompt == 120
    assert again.steps[0].findings == again.findings
    assert again.findings[0].references == ["CIS Kubernetes 5.2.1", "CKV_K8S_16"]
    assert again.started_at is not None and again.started_at.tzinfo is not None


def test_task_finished_writes_report_files_with_checksums(store: Store) -> None:
    task = make_task()
    stored = store.task_finished(make_report(task))
    by_name = {(a.step_id, a.name): a for a in stored.artifacts}
    assert {
        (None, "report.json"),
        (None, "report.md"),
        (None, "report.sarif"),
        ("security", "output.json"),
        ("devops", "output.json"),
        ("devops", "patches/deploy_app-0.yaml.diff"),
    } <= set(by_name)
    for ref in stored.artifacts:
        data = store.read_artifact(task.id, ref.step_id, ref.name)
        assert len(data) == ref.size
        import hashlib

        assert hashlib.sha256(data).hexdigest() == ref.sha256
        assert f"/tasks/{task.id}/" in ref.url
    body = json.loads(store.read_artifact(task.id, None, "report.json"))
    assert body["task_id"] == task.id and len(body["findings"]) == 3
    step_out = json.loads(store.read_artifact(task.id, "security", "output.json"))
    assert step_out["output"] == {"checked": {"files": 12}, "rules": ["LG-K8S-001"]}
    assert len(step_out["findings"]) == 3 and len(step_out["attempts"]) == 2
    diff = store.read_artifact(task.id, "devops", "patches/deploy_app-0.yaml.diff").decode()
    assert diff.startswith("--- a/deploy/app-0.yaml")
    sarif = json.loads(store.read_artifact(task.id, None, "report.sarif"))
    assert len(sarif["runs"][0]["results"]) == 3
    assert "Container runs privileged" in store.read_artifact(task.id, None, "report.md").decode()


def test_task_finished_is_idempotent(store: Store) -> None:
    task = make_task()
    report = make_report(task)
    store.task_finished(report)
    store.task_finished(report)
    again = store.get_report(task.id)
    assert again is not None and len(again.findings) == 3
    assert len(again.artifacts) == len({(a.step_id, a.name) for a in again.artifacts})


def test_running_task_is_listed_and_shown(store: Store) -> None:
    task = make_task()
    store.task_started(task)
    [row] = store.list_tasks()
    assert row.id == task.id and row.status is TaskStatus.running
    report = store.get_report(task.id)
    assert report is not None and report.status is TaskStatus.running and report.steps == []
    assert report.plan.steps == []  # not planned yet

    plan = Plan(steps=[Step(id="security", agent="security")], planner="rules")
    store.task_planned(task.id, plan)
    planned = store.get_report(task.id)
    assert planned is not None and planned.plan == plan
    assert planned.status is TaskStatus.running
    store.task_planned("no-such-task", plan)  # nothing to plan: left alone
    assert [r.id for r in store.list_tasks()] == [task.id]


def test_id_prefix_lookup(store: Store) -> None:
    a, b = make_task(), make_task()
    a.id, b.id = "abc111" + a.id[6:], "abc222" + b.id[6:]
    store.task_finished(make_report(a))
    store.task_finished(make_report(b))
    assert store.get_report("abc1").task_id == a.id
    assert store.get_report("zzz") is None
    assert store.get_report("abc%") is None
    with pytest.raises(AmbiguousTaskIdError):
        store.get_report("abc")


def test_list_tasks_newest_first_with_counts(store: Store) -> None:
    ids = []
    for n in (1, 2, 3):
        task = make_task(target=f"t{n}")
        task.created_at = utcnow() + timedelta(seconds=n)
        store.task_started(task)
        store.task_finished(make_report(task, n_findings=n))
        ids.append(task.id)
    rows = store.list_tasks(limit=2)
    assert [r.id for r in rows] == [ids[2], ids[1]]
    assert rows[0].finding_count == 3 and sum(rows[0].by_severity.values()) == 3


def test_drift_against_previous_task_on_same_target(store: Store, tmp_path: Path) -> None:
    target = tmp_path / "repo"
    target.mkdir()
    f = [make_finding(i) for i in range(4)]
    first = make_task(target=str(target))
    store.task_started(first)
    first_report = store.task_finished(make_report(first, findings=[f[0], f[1], f[2]]))
    assert store.drift(first_report) is None

    # Same folder named differently: still the same target.
    second = make_task(target=str(target) + "/")
    second.created_at = first.created_at + timedelta(seconds=1)
    store.task_started(second)
    second_report = store.task_finished(make_report(second, findings=[f[1], f[2], f[3]]))
    drift = store.drift(second_report)
    assert drift is not None
    assert drift.previous_task_id == first.id
    assert drift.new == [f[3].id]
    assert drift.fixed == [f[0].id]
    assert drift.still_open == [f[1].id, f[2].id]
    assert "1 new, 1 fixed, 2 still open" in drift.summary_line()


def test_drift_ignores_failed_and_other_targets(store: Store) -> None:
    other = make_task(target="elsewhere")
    store.task_finished(make_report(other))
    failed = make_task(target="here")
    store.task_finished(make_report(failed, status=TaskStatus.failed))
    current = make_task(target="here")
    current.created_at = utcnow() + timedelta(seconds=1)
    store.task_started(current)
    assert store.drift(make_report(current)) is None


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_tasks_whose_process_died_are_marked_interrupted(settings: Settings) -> None:
    store = open_store(settings)
    dead, alive = make_task(), make_task()
    store.task_started(dead)
    store.task_started(alive)
    with store.engine.begin() as conn:
        conn.execute(update(TaskRow).where(TaskRow.id == dead.id).values(pid=_dead_pid()))
    close_stores()

    store = open_store(settings)  # opening the store marks stale rows
    statuses = {r.id: r.status for r in store.list_tasks()}
    assert statuses[dead.id] is TaskStatus.interrupted
    assert statuses[alive.id] is TaskStatus.running  # this process is still alive
    report = store.get_report(dead.id)
    assert any("interrupted" in n for n in report.notes)


def test_task_on_another_host_is_interrupted_only_without_heartbeat(store: Store) -> None:
    fresh, stale = make_task(), make_task()
    store.task_started(fresh)
    store.task_started(stale)
    old = utcnow() - store.liveness.stale_after - timedelta(minutes=1)
    with store.engine.begin() as conn:
        conn.execute(update(TaskRow).values(hostname="another-pod"))
        conn.execute(update(TaskRow).where(TaskRow.id == stale.id).values(heartbeat_at=old))
    assert store.mark_interrupted() == [stale.id]
    store.heartbeat(fresh.id)
    assert store.mark_interrupted() == []


def _heartbeat_threads(task_id: str) -> list[threading.Thread]:
    """The threads beating for `task_id` (Store names them after the task)."""
    return [t for t in threading.enumerate() if t.name == f"llmgenie-heartbeat-{task_id[:8]}"]


def test_running_task_heartbeats_until_finished(store: Store) -> None:
    store.liveness.heartbeat_seconds = 0.05
    task = make_task()
    store.task_started(task)

    def beat_of() -> object:
        with store.engine.connect() as conn:
            return conn.scalar(select(TaskRow.heartbeat_at).where(TaskRow.id == task.id))

    first = beat_of()
    wait_until(beat_of, "a heartbeat", until=lambda beat: beat != first)
    assert beat_of() != first  # the thread beat on its own
    assert _heartbeat_threads(task.id)
    store.task_finished(make_report(task))
    wait_until(lambda: _heartbeat_threads(task.id), "the heartbeat thread to end", until=not_)
    last = beat_of()
    assert beat_of() == last  # and stopped with the task: nothing beats for it any more


def test_a_task_that_ends_without_a_report_stops_being_running(store: Store) -> None:
    store.liveness.heartbeat_seconds = 0.05
    task = make_task()
    store.task_started(task)
    assert _heartbeat_threads(task.id)
    store.task_ended(task.id, TaskStatus.failed, "RuntimeError: the Prefect API went away")

    [row] = store.list_tasks()
    assert row.status is TaskStatus.failed
    with store.engine.connect() as conn:
        saved = conn.execute(select(TaskRow).where(TaskRow.id == task.id)).one()
    assert saved.finished_at is not None
    assert saved.notes == ["failed: RuntimeError: the Prefect API went away"]
    wait_until(lambda: _heartbeat_threads(task.id), "the heartbeat thread to end", until=not_)
    with store.engine.connect() as conn:
        beat = conn.scalar(select(TaskRow.heartbeat_at).where(TaskRow.id == task.id))
    with store.engine.connect() as conn:  # nothing beats for it any more
        assert conn.scalar(select(TaskRow.heartbeat_at).where(TaskRow.id == task.id)) == beat

    # a finished task, or none at all, is left as it is
    store.task_ended(task.id, TaskStatus.interrupted, "too late")
    assert store.list_tasks()[0].status is TaskStatus.failed
    store.task_ended("no-such-task", TaskStatus.interrupted, "never started")


def test_many_findings_use_bulk_rows(store: Store) -> None:
    task = make_task()
    store.task_finished(make_report(task, n_findings=2000, patches=False))
    with store.engine.connect() as conn:
        count = conn.scalar(
            select(text("count(*)")).select_from(FindingRow).where(FindingRow.task_id == task.id)
        )
    assert count == 4000  # once for the step, once merged on the task
    assert len(store.get_report(task.id).findings) == 2000


def test_concurrent_tasks_from_threads(store: Store) -> None:
    tasks = [make_task(target=f"t{i}") for i in range(8)]
    errors: list[BaseException] = []

    def run(task) -> None:  # type: ignore[no-untyped-def]
        try:
            store.task_started(task)
            store.task_finished(make_report(task))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r.id for r in store.list_tasks(limit=50)} == {t.id for t in tasks}


def test_store_survives_dropped_connections(store: Store, db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("server-side disconnects are a PostgreSQL matter")
    task = make_task()
    store.task_started(task)  # the pool now holds a connection
    import psycopg

    from tests.support.postgres import ADMIN_DSN

    name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_DSN, autocommit=True) as admin:
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchone()[0]
    assert killed >= 1
    store.task_finished(make_report(task))  # pre-ping / retry reconnects
    assert store.get_report(task.id).status is TaskStatus.completed


def test_runs_commands(store: Store, cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    task = make_task()
    store.task_started(task)
    store.task_finished(make_report(task))

    code, out, _ = run_cli(capsys, "runs", "list")
    assert code == 0 and task.id[:12] in out and "completed" in out and "examples/shop" in out
    code, out, _ = run_cli(capsys, "runs", "list", "--format", "json")
    assert code == 0 and json.loads(out)[0]["task_id"] == task.id

    code, out, _ = run_cli(capsys, "runs", "show", task.id[:8], "--format", "json")
    assert code == 0 and json.loads(out)["task_id"] == task.id
    code, out, _ = run_cli(capsys, "runs", "show", task.id[:8])
    assert code == 0 and out.startswith("# audit the manifests") and "k8s.privileged" in out

    code, _, err = run_cli(capsys, "runs", "show", "ffffffffff")
    assert code == 2 and "no task with id" in err
