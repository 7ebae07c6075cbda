"""Retention on SQLite and PostgreSQL, a local folder and a real S3 endpoint: what ended long ago
goes with its files, nothing else does, and the audit log stays whole."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import boto3
import pytest
from sqlalchemy import func, select, update

from llmgenie.core import audit
from llmgenie.core.models import TaskStatus, utcnow
from llmgenie.core.settings import Settings
from llmgenie.core.storage import Store, close_stores, open_store
from llmgenie.core.storage.retention import parse_age, prune
from llmgenie.core.storage.tables import (
    ArtifactRow,
    AttemptRow,
    FindingRow,
    StepRow,
    TaskRow,
)
from tests.support.cli import run_cli
from tests.support.net import closed_port_url, silent_server_url
from tests.support.reports import finished_long_ago, make_task

DAY = timedelta(days=1)


def _rows(store: Store, task_id: str) -> dict[str, int]:
    def tx(s):  # type: ignore[no-untyped-def]
        return {
            t.__tablename__: s.scalar(
                select(func.count()).select_from(t).where(t.task_id == task_id)
            )
            for t in (ArtifactRow, FindingRow, AttemptRow, StepRow)
        } | {
            "tasks": s.scalar(
                select(func.count()).select_from(TaskRow).where(TaskRow.id == task_id)
            )
        }

    return store._tx(tx)


def _local_files(store: Store, task_id: str) -> list[Path]:
    folder = Path(store.backend.root) / "tasks" / task_id  # type: ignore[attr-defined]
    return [p for p in folder.rglob("*") if p.is_file()]


def test_parse_age() -> None:
    assert parse_age("30d") == 30 * DAY
    assert parse_age(" 12h ") == timedelta(hours=12)
    assert parse_age("90m") == timedelta(minutes=90)
    assert parse_age("2W") == timedelta(weeks=2)
    for bad in ("", "30", "d", "-1d", "0d", "1.5d", "3y", "\u0663d"):  # an Arabic-Indic 3
        with pytest.raises(ValueError, match="not an age"):
            parse_age(bad)
    for huge in ("36526d", "99999999999999999999w"):
        with pytest.raises(ValueError, match="more than 100 years"):
            parse_age(huge)


def test_prune_removes_tasks_that_ended_before_the_cutoff_with_their_files(store: Store) -> None:
    old, recent = finished_long_ago(store, 40), finished_long_ago(store, 2)
    running = make_task()  # started long ago and still running here: never pruned
    store.task_started(running)
    store._tx(
        lambda s: s.execute(
            update(TaskRow).where(TaskRow.id == running.id).values(created_at=utcnow() - 90 * DAY)
        )
    )
    old_files = _local_files(store, old.id)
    assert len(old_files) > 5 and _rows(store, old.id)["findings"] > 0
    size = sum(p.stat().st_size for p in old_files)

    result = prune(store, utcnow() - 30 * DAY)

    assert [t.id for t in result.pruned] == [old.id] and not result.kept
    assert result.files == len(old_files) and result.bytes == size
    assert _rows(store, old.id) == dict.fromkeys(
        ("artifacts", "findings", "attempts", "steps", "tasks"), 0
    )
    assert not (Path(store.backend.root) / "tasks" / old.id).exists()  # type: ignore[attr-defined]
    assert store.get_report(old.id) is None
    # the others are untouched
    assert store.get_report(recent.id) is not None and len(_local_files(store, recent.id)) > 5
    assert store.get_report(running.id).status is TaskStatus.running
    # the audit log keeps the old task's events, says it was pruned, and its chain holds
    events = store.audit_events()
    assert any(e.kind == "artifact.written" and e.task_id == old.id for e in events)
    [pruned] = [e for e in events if e.kind == "task.pruned"]
    assert pruned.task_id == old.id and pruned.data["files"] == len(old_files)
    assert audit.verify(store).ok

    assert prune(store, utcnow() - 30 * DAY).pruned == []  # nothing left to do


def test_a_dry_run_removes_nothing(store: Store) -> None:
    old = finished_long_ago(store, 40)
    before = _rows(store, old.id)

    result = prune(store, utcnow() - 30 * DAY, dry_run=True)

    assert [t.id for t in result.pruned] == [old.id] and result.dry_run
    assert _rows(store, old.id) == before and _local_files(store, old.id)
    assert not [e for e in store.audit_events() if e.kind == "task.pruned"]


def test_a_task_whose_process_died_is_pruned_as_interrupted(store: Store) -> None:
    task = make_task()
    store.task_started(task)
    store.liveness.stop(task.id)
    long_ago = utcnow() - 40 * DAY
    store._tx(
        lambda s: s.execute(
            update(TaskRow)
            .where(TaskRow.id == task.id)
            .values(
                hostname="gone-host",
                created_at=long_ago,
                started_at=long_ago,
                heartbeat_at=long_ago,
            )
        )
    )
    result = prune(store, utcnow() - 30 * DAY)
    assert [(t.id, t.status) for t in result.pruned] == [(task.id, "interrupted")]


def _s3_settings(s3_bucket: str, tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home", database_url=db_url, artifacts_url=f"s3://{s3_bucket}/lg"
    )


def _keys(bucket: str, task_id: str) -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=f"lg/tasks/{task_id}/")
    return [o["Key"] for o in listing.get("Contents", [])]


def test_prune_removes_the_objects_in_the_bucket(
    s3_bucket: str, tmp_path: Path, db_url: str
) -> None:
    store = open_store(_s3_settings(s3_bucket, tmp_path, db_url))
    try:
        old, recent = finished_long_ago(store, 40), finished_long_ago(store, 1)
        count = len(_keys(s3_bucket, old.id))
        assert count > 5

        result = prune(store, utcnow() - 30 * DAY)

        assert [t.id for t in result.pruned] == [old.id] and result.files == count
        assert _keys(s3_bucket, old.id) == []
        assert len(_keys(s3_bucket, recent.id)) > 5
    finally:
        close_stores()


def test_a_dead_bucket_keeps_the_task_and_says_why(
    s3_bucket: str,
    s3_endpoint: str,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(_s3_settings(s3_bucket, tmp_path, db_url))
    try:
        old = finished_long_ago(store, 40)
        rows = _rows(store, old.id)
        monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())
        store.backend.reset()  # type: ignore[attr-defined]
        store.backend.max_attempts = 1  # type: ignore[attr-defined]

        result = prune(store, utcnow() - 30 * DAY)

        assert result.pruned == [] and list(result.kept) == [old.id]
        assert result.kept[old.id].startswith("its files could not be removed: delete in s3://")
        assert "\n" not in result.kept[old.id]
        assert _rows(store, old.id) == rows  # nothing lost: the next prune finds it again

        monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
        store.backend.reset()  # type: ignore[attr-defined]
        assert [t.id for t in prune(store, utcnow() - 30 * DAY).pruned] == [old.id]
        assert _keys(s3_bucket, old.id) == []
    finally:
        close_stores()


def test_a_bucket_that_never_answers_is_waited_for_once_not_per_task(
    s3_bucket: str, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(_s3_settings(s3_bucket, tmp_path, db_url))
    try:
        due = [finished_long_ago(store, 40 + i) for i in range(3)]
        with silent_server_url() as silent:
            monkeypatch.setenv("AWS_ENDPOINT_URL", silent)
            store.backend.reset()  # type: ignore[attr-defined]
            store.backend.read_timeout = 0.5  # type: ignore[attr-defined]
            store.backend.max_attempts = 1  # type: ignore[attr-defined]
            calls = []
            delete = store.backend.delete
            monkeypatch.setattr(
                store.backend, "delete", lambda keys: calls.append(keys) or delete(keys)
            )

            result = prune(store, utcnow() - 30 * DAY)

        assert result.pruned == [] and set(result.kept) == {t.id for t in due}
        reasons = sorted(result.kept.values())
        assert sum("timeout" in r.lower() for r in reasons) == 1, reasons  # waited for once
        assert sum("not tried: the endpoint failed" in r for r in reasons) == 2, reasons
        assert len(calls) == 3 and all(_rows(store, t.id)["artifacts"] for t in due)
    finally:
        close_stores()


def test_files_waiting_in_the_spool_keep_their_task(
    s3_bucket: str,
    tmp_path: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())
    store = open_store(_s3_settings(s3_bucket, tmp_path, db_url))
    try:
        store.backend.max_attempts = 1  # type: ignore[attr-defined]
        old = finished_long_ago(
            store, 40
        )  # its files could not be uploaded: they wait in the spool
        spooled = [p for p in store.spool_folder(old.id).rglob("*") if p.is_file()]
        assert spooled

        result = prune(store, utcnow() - 30 * DAY)

        assert result.pruned == []
        assert "still wait to be uploaded (`llmgenie artifacts sync`)" in result.kept[old.id]
        assert all(p.exists() for p in spooled) and _rows(store, old.id)["tasks"] == 1
    finally:
        close_stores()


def test_runs_prune_command(
    store: Store, cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    old, recent = finished_long_ago(store, 40), finished_long_ago(store, 2)

    code, out, _ = run_cli(capsys, "runs", "prune", "--older-than", "30d", "--dry-run")
    assert code == 0 and out.startswith("would remove 1 task (7 files, ") and old.id[:12] in out
    assert store.get_report(old.id) is not None

    code, out, _ = run_cli(capsys, "runs", "prune", "--older-than", "30d", "--format", "json")
    payload = json.loads(out)
    assert code == 0 and [t["task_id"] for t in payload["pruned"]] == [old.id]
    assert payload["kept"] == [] and payload["dry_run"] is False
    assert store.get_report(old.id) is None and store.get_report(recent.id) is not None

    code, out, _ = run_cli(capsys, "runs", "prune", "--older-than", "1d")
    assert code == 0 and out.startswith("removed 1 task (") and "audit log keeps" in out

    # the audit log says what became of a pruned task
    for command in (("runs", "show"), ("artifacts", "list")):
        code, _, err = run_cli(capsys, *command, old.id[:10])
        assert code == 2 and f"task '{old.id[:10]}' was pruned on " in err, err
        assert len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "runs", "show", "deadbeef%")
    assert code == 2 and "no task with id 'deadbeef%'" in err

    code, _, err = run_cli(capsys, "runs", "prune", "--older-than", "soon")
    assert code == 2 and "error: --older-than: 'soon' is not an age" in err
    assert len(err.strip().splitlines()) == 1


def _pruned_events(store: Store, task_id: str) -> int:
    return sum(1 for e in store.audit_events() if e.kind == "task.pruned" and e.task_id == task_id)


def test_a_prune_cut_off_keeps_the_event_of_every_task_it_removed(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgenie.core.storage import retention

    first, second = finished_long_ago(store, 50), finished_long_ago(store, 40)
    delete_rows = retention._delete_rows

    def fails_on_the_second(s, task_id: str) -> bool:  # type: ignore[no-untyped-def]
        if task_id == second.id:
            raise RuntimeError("killed mid-prune")
        return delete_rows(s, task_id)

    monkeypatch.setattr(retention, "_delete_rows", fails_on_the_second)
    with pytest.raises(RuntimeError, match="killed mid-prune"):
        prune(store, utcnow() - 30 * DAY)

    assert _rows(store, first.id)["tasks"] == 0 and _pruned_events(store, first.id) == 1
    assert _rows(store, second.id)["tasks"] == 1 and _pruned_events(store, second.id) == 0
    assert audit.verify(store).ok


def test_a_task_another_prune_removed_meanwhile_is_not_counted_twice(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llmgenie.core.storage import retention

    due = finished_long_ago(store, 40)
    delete = store.backend.delete

    def another_prune_first(keys: list[str]) -> None:
        delete(keys)
        store._tx(lambda s: retention._delete_rows(s, due.id))  # as a second prune would

    monkeypatch.setattr(store.backend, "delete", another_prune_first)
    result = prune(store, utcnow() - 30 * DAY)

    assert result.pruned == [] and result.kept == {}
    assert _pruned_events(store, due.id) == 0  # the prune that removed it records it


def test_files_stored_before_the_artifact_store_moved_keep_their_task(
    store: Store, tmp_path: Path
) -> None:
    due = finished_long_ago(store, 40)
    files = _local_files(store, due.id)
    moved = open_store(store.settings.model_copy(update={"artifacts_url": str(tmp_path / "new")}))

    result = prune(moved, utcnow() - 30 * DAY)

    assert result.pruned == [] and list(result.kept) == [due.id]
    assert result.kept[due.id].startswith("its files are not in the artifact store set now")
    assert "LLMGENIE_ARTIFACTS_URL" in result.kept[due.id]
    assert all(f.exists() for f in files) and _rows(moved, due.id)["tasks"] == 1
