"""The audit log notices truncation: a shortened chain that is consistent by itself is still
caught by the anchors outside it (each task's row and stored manifest) and by the signed head."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update

from llmgenie.core import audit
from llmgenie.core.settings import get_settings
from llmgenie.core.storage import Store, close_stores, open_store
from llmgenie.core.storage.retention import prune
from llmgenie.core.storage.tables import AuditEventRow, AuditHeadRow, TaskRow
from tests.support.cli import run_cli
from tests.support.postgres import truncate_tables
from tests.support.reports import finished_long_ago, make_report, make_task

KEY = "correct horse battery staple"


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_db(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A database of this test's own, as `llmgenie` commands see it (set the env, then open)."""
    monkeypatch.setenv("LLMGENIE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("LLMGENIE_AUDIT_KEY", raising=False)
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        truncate_tables(url)
    monkeypatch.setenv("LLMGENIE_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        yield url
    finally:
        close_stores()
        get_settings.cache_clear()


@pytest.fixture
def store(audit_db: str) -> Store:
    return open_store(get_settings())


def _finished_task(store: Store) -> str:
    task = make_task()
    store.task_started(task)
    store.task_finished(make_report(task))
    return task.id


def _events(store: Store) -> list[AuditEventRow]:
    with store.engine.connect() as conn:
        return list(conn.execute(select(AuditEventRow).order_by(AuditEventRow.seq)))


def _cut_tail_from(store: Store, seq: int) -> None:
    """Delete events #seq.. and move the head back onto the last one left: a consistent chain."""
    with store.engine.begin() as conn:
        conn.execute(delete(AuditEventRow).where(AuditEventRow.seq >= seq))
        last = conn.execute(
            select(AuditEventRow.seq, AuditEventRow.hash).where(AuditEventRow.seq == seq - 1)
        ).one()
        conn.execute(update(AuditHeadRow).values(seq=last.seq, hash=last.hash))


def _verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code, out, err = run_cli(capsys, "audit", "verify")
    return code, out + err


def test_deleting_the_tail_and_moving_the_head_back_is_reported(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    kept, lost = _finished_task(store), _finished_task(store)
    assert _verify(capsys)[0] == 0
    first_of_lost = min(e.seq for e in _events(store) if e.task_id == lost)

    _cut_tail_from(store, first_of_lost)

    code, said = _verify(capsys)
    assert code == 1, said
    assert f"events #{first_of_lost}..#" in said and "were deleted" in said
    assert f"task {lost}'s row anchor" in said and "is gone" in said
    assert f"task {kept}" not in said


def test_deleting_every_event_and_the_head_is_reported(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _finished_task(store), _finished_task(store)
    with store.engine.begin() as conn:
        conn.execute(delete(AuditEventRow))
        conn.execute(delete(AuditHeadRow))

    code, said = _verify(capsys)
    assert code == 1, said
    assert "the chain is empty" in said
    assert f"task {first}'s" in said and f"task {second}'s" in said


def test_a_task_stored_before_anchors_must_still_have_events(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    legacy = _finished_task(store)
    with store.engine.begin() as conn:  # as a row written before migration 0003
        conn.execute(update(TaskRow).values(audit_seq=None, audit_hash=None, audit_mac=None))
    assert _verify(capsys)[0] == 0
    with store.engine.begin() as conn:
        conn.execute(delete(AuditEventRow))
        conn.execute(delete(AuditHeadRow))

    code, said = _verify(capsys)
    assert code == 1, said
    assert f"task {legacy} has no events in the audit log" in said


def test_deleting_one_tasks_events_is_reported_even_when_the_chain_is_relinked(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    hidden, other = _finished_task(store), _finished_task(store)
    # an attacker who knows the hashing removes one task's events and relinks the rest, so
    # that no gap and no broken link is left in the chain itself
    kept = [e for e in _events(store) if e.task_id != hidden]
    prev, rows = audit.GENESIS_HASH, []
    for seq, e in enumerate(kept, 1):
        digest = audit.audit_hash(prev, seq, e.at, e.kind, e.actor, e.task_id, e.step_id, e.data)
        rows.append(
            {
                "seq": seq,
                "at": e.at,
                "kind": e.kind,
                "actor": e.actor,
                "task_id": e.task_id,
                "step_id": e.step_id,
                "data": e.data,
                "prev_hash": prev,
                "hash": digest,
            }
        )
        prev = digest
    with store.engine.begin() as conn:
        conn.execute(delete(AuditEventRow))
        conn.execute(insert(AuditEventRow), rows)
        conn.execute(update(AuditHeadRow).values(seq=len(rows), hash=prev))

    code, said = _verify(capsys)
    assert code == 1, said
    assert f"task {hidden}'s row anchor" in said and f"is now an event of {other}" in said
    assert f"task {other}'s row anchor" in said and "is gone" in said


def test_a_rewritten_row_anchor_is_caught_by_the_manifest(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    kept, lost = _finished_task(store), _finished_task(store)
    started = next(e for e in _events(store) if e.task_id == lost and e.kind == "task.started")
    # cut everything after the task's start, and point its row at that start: the database
    # alone is consistent again; the manifest in the artifact store still says otherwise
    _cut_tail_from(store, started.seq + 1)
    with store.engine.begin() as conn:
        conn.execute(
            update(TaskRow)
            .where(TaskRow.id == lost)
            .values(audit_seq=started.seq, audit_hash=started.hash)
        )

    code, said = _verify(capsys)
    assert code == 1, said
    assert f"task {lost}'s row anchors event #{started.seq} but its manifest anchors" in said
    assert f"task {lost}'s manifest anchor" in said and "is gone" in said
    assert f"task {kept}" not in said


def test_with_an_audit_key_a_head_moved_back_is_reported(
    audit_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLMGENIE_AUDIT_KEY", KEY)
    get_settings.cache_clear()
    store = open_store(get_settings())
    for i in range(5):  # events of no task: only the head says where the chain ends
        audit.record("tool.called", actor="security", tool=f"k8s-{i}")
    assert _verify(capsys)[0] == 0

    _cut_tail_from(store, 4)

    code, said = _verify(capsys)
    assert code == 1, said
    assert "BROKEN at event #3" in said and "not signed with LLMGENIE_AUDIT_KEY" in said


def test_a_signed_anchor_cannot_be_moved_to_another_tasks_event(
    audit_db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LLMGENIE_AUDIT_KEY", KEY)
    get_settings.cache_clear()
    store = open_store(get_settings())
    first, second = _finished_task(store), _finished_task(store)
    assert _verify(capsys)[0] == 0
    with store.engine.connect() as conn:
        theirs = conn.execute(
            select(TaskRow.audit_seq, TaskRow.audit_hash, TaskRow.audit_mac).where(
                TaskRow.id == first
            )
        ).one()
    with store.engine.begin() as conn:
        conn.execute(
            update(TaskRow)
            .where(TaskRow.id == second)
            .values(audit_seq=theirs[0], audit_hash=theirs[1], audit_mac=theirs[2])
        )

    code, said = _verify(capsys)
    assert code == 1, said
    assert f"is now an event of {first}" in said


def test_runs_prune_does_not_make_verify_fail(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pruned tasks take their anchors with them (their row and manifest), and leave a
    `task.pruned` event: the log stays intact (decision 0016)."""
    old, recent = finished_long_ago(store, 40), finished_long_ago(store, 1)
    result = prune(store, audit.parse_since("30d"))
    assert [t.id for t in result.pruned] == [old.id]

    code, said = _verify(capsys)
    assert code == 0, said
    assert "1 task anchors found" in said
    assert any(e.kind == "task.pruned" and e.task_id == old.id for e in _events(store))
    assert recent.id != old.id
