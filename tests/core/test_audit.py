"""The audit log: masking, the hash chain, tamper detection, export, concurrency, never raising."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Executable, delete, event, text, update

from llmgenie.core import audit
from llmgenie.core.settings import get_settings
from llmgenie.core.storage import Store, close_stores, open_store
from llmgenie.core.storage.tables import AuditEventRow, AuditHeadRow
from tests.support.cli import run_cli
from tests.support.postgres import truncate_tables


@pytest.fixture(params=["sqlite", "postgresql"])
def audit_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """A store with its own database, also what `audit.record()` and the CLI use."""

    def setup(url: str) -> Store:
        monkeypatch.setenv("LLMGENIE_HOME", str(tmp_path / "home"))
        monkeypatch.setenv("LLMGENIE_DATABASE_URL", url)
        get_settings.cache_clear()
        return open_store(get_settings())

    try:
        if request.param == "sqlite":
            yield setup(f"sqlite:///{tmp_path / 'audit.db'}")
        else:
            url = request.getfixturevalue("postgres_url")
            truncate_tables(url)
            yield setup(url)
    finally:
        close_stores()
        get_settings.cache_clear()


def _fill(n: int = 5) -> None:
    for i in range(n):
        audit.record("tool.called", actor="security", task_id="t1", step_id="s", tool=f"k8s-{i}")


def test_mask_secrets_by_key_and_by_value() -> None:
    masked = audit.mask(
        {
            "password": "hunter2",
            "db": {"api_key": "abc", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI"},
            "tokens": {"prompt": 10, "completion": 2},
            "args": ["--token=abcdef123", "https://user:pw@host/x", "AKIAIOSFODNN7EXAMPLE"],
            "header": "Authorization: Bearer eyJhbGciOi.eyJzdWIiOiIx.c2lnbmF0dXJl",
            "note": "openai key sk-proj-abcdefghijklmnopqrstuvwx in env",
            "size": 1234,
            "object_key": "tasks/t/_task/report.md",
        }
    )
    assert masked["password"] == "****"
    assert masked["db"] == {"api_key": "****", "AWS_SECRET_ACCESS_KEY": "****"}
    assert masked["tokens"] == {"prompt": 10, "completion": 2}
    assert masked["args"] == ["--token=****", "https://user:****@host/x", "AKIA****"]
    assert "eyJzdWIi" not in masked["header"]
    assert masked["note"] == "openai key sk-p**** in env"
    assert masked["size"] == 1234 and masked["object_key"] == "tasks/t/_task/report.md"


def test_domain_types_are_recorded_as_data() -> None:
    from llmgenie.core.models import Caller, Role

    assert audit.mask({"caller": Caller(name="ci", role=Role.viewer)}) == {
        "caller": {"name": "ci", "role": "viewer"}
    }


def test_prompts_dropped_unless_enabled() -> None:
    assert audit.mask({"prompt": "secret plan"}) == {"prompt": "[omitted: 11 characters]"}
    assert audit.mask({"prompt": "secret plan"}, keep_prompts=True) == {"prompt": "secret plan"}


def test_record_builds_a_verifiable_chain(audit_env: Store) -> None:
    _fill(5)
    audit.record("model.called", actor="security", model="openai/x", tokens=7, prompt="hi")
    events = list(audit_env.audit_events())
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert events[-1].data == {
        "model": "openai/x",
        "tokens": 7,
        "prompt": "[omitted: 2 characters]",
    }
    result = audit.verify(audit_env)
    assert result.ok and result.checked == 6


@pytest.mark.parametrize(
    ("tamper", "broken_at", "reason"),
    [
        (
            lambda: update(AuditEventRow).where(AuditEventRow.seq == 3).values(actor="x"),
            3,
            "altered",
        ),
        (
            lambda: update(AuditEventRow).where(AuditEventRow.seq == 2).values(data={"tool": "y"}),
            2,
            "altered",
        ),
        (lambda: delete(AuditEventRow).where(AuditEventRow.seq == 2), 2, "missing"),
        (lambda: delete(AuditEventRow).where(AuditEventRow.seq == 5), 5, "deleted"),
        (lambda: delete(AuditEventRow).where(AuditEventRow.seq == 1), 1, "missing"),
        (lambda: update(AuditHeadRow).values(hash="0" * 64), 5, "head record was altered"),
        (lambda: delete(AuditHeadRow), 5, "head record is missing"),
    ],
    ids=[
        "actor-changed",
        "data-changed",
        "middle-deleted",
        "last-deleted",
        "first-deleted",
        "head-altered",
        "head-deleted",
    ],
)
def test_verify_names_the_first_broken_link(
    audit_env: Store,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[], Executable],
    broken_at: int,
    reason: str,
) -> None:
    _fill(5)
    code, out, _ = run_cli(capsys, "audit", "verify")
    assert code == 0 and "5 events verified" in out

    with audit_env.engine.begin() as conn:
        conn.execute(tamper())
    result = audit.verify(audit_env)
    assert not result.ok and result.broken_at == broken_at and reason in (result.reason or "")
    code, _, err = run_cli(capsys, "audit", "verify")
    assert code == 1 and f"BROKEN at event #{broken_at}" in err


def test_rewriting_an_event_and_its_hash_still_breaks_the_next_link(audit_env: Store) -> None:
    _fill(4)
    ev = next(e for e in audit_env.audit_events() if e.seq == 2)
    forged = audit.audit_hash(
        ev.prev_hash, 2, ev.at, ev.kind, "mallory", ev.task_id, ev.step_id, ev.data
    )
    with audit_env.engine.begin() as conn:
        conn.execute(
            update(AuditEventRow).where(AuditEventRow.seq == 2).values(actor="mallory", hash=forged)
        )
    result = audit.verify(audit_env)
    assert not result.ok and result.broken_at == 3


def test_export_since_writes_json_lines(
    audit_env: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    audit_env.audit_log.append(
        [audit.AuditEntry("task.started", "boss", "t0", None, {"n": 0}, old)]
    )
    _fill(2)
    code, out, _ = run_cli(capsys, "audit", "export")
    assert code == 0 and len(out.splitlines()) == 3
    code, out, _ = run_cli(capsys, "audit", "export", "--since", "1d")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0 and [e["seq"] for e in lines] == [2, 3]
    assert {"seq", "at", "kind", "actor", "data", "prev_hash", "hash"} <= set(lines[0])
    dest = tmp_path / "audit.jsonl"
    code, _, _ = run_cli(
        capsys, "audit", "export", "--since", old.date().isoformat(), "-o", str(dest)
    )
    assert code == 0 and len(dest.read_text().splitlines()) == 3
    code, _, err = run_cli(capsys, "audit", "export", "--since", "yesterday")
    assert code == 2 and "--since 'yesterday'" in err


def test_a_batch_is_appended_link_after_link_in_one_transaction(audit_env: Store) -> None:
    _fill(2)
    commits: list[object] = []

    def count(conn: object) -> None:
        commits.append(conn)

    event.listen(audit_env.engine, "commit", count)
    try:
        audit.record_all_in(
            audit_env,
            [
                audit.AuditEntry(
                    "artifact.written", "storage", "t1", None, {"n": i, "api_key": "x"}
                )
                for i in range(4)
            ],
        )
    finally:
        event.remove(audit_env.engine, "commit", count)
    assert len(commits) == 1
    events = list(audit_env.audit_events())
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert [e.data["n"] for e in events[2:]] == [0, 1, 2, 3]
    assert all(e.data["api_key"] == "****" for e in events[2:])  # masked like one event
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(events))
    assert audit.verify(audit_env).ok


def test_concurrent_appends_from_threads_keep_one_chain(audit_env: Store) -> None:
    def worker(n: int) -> None:
        if n % 2:  # half the writers append in batches
            for b in range(2):
                entries = [
                    audit.AuditEntry("tool.called", f"w{n}", None, None, {"i": b * 5 + i})
                    for i in range(5)
                ]
                audit.record_all_in(audit_env, entries)
            return
        for i in range(10):
            audit.record("tool.called", actor=f"w{n}", i=i)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = audit.verify(audit_env)
    assert result.ok and result.checked == 60


_APPENDER = """
import sys
from llmgenie.core import audit
for i in range(15):
    audit.record("tool.called", actor=sys.argv[1], i=i)
"""


@pytest.mark.slow
def test_concurrent_appends_from_processes_keep_one_chain(audit_env: Store) -> None:
    procs = [
        subprocess.Popen([sys.executable, "-c", _APPENDER, f"p{n}"], stderr=subprocess.PIPE)
        for n in range(2)
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err.decode()
    result = audit.verify(audit_env)
    assert result.ok and result.checked == 30, result


def test_record_never_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LLMGENIE_HOME", str(tmp_path))
    monkeypatch.setenv("LLMGENIE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/x")
    get_settings.cache_clear()
    try:
        audit.record("tool.called", actor="x", tool="y")  # logged, not raised
    finally:
        get_settings.cache_clear()
        close_stores()


def test_parse_since() -> None:
    now = datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert audit.parse_since("2h", now) == datetime(2026, 11, 24, 10, tzinfo=UTC)
    assert audit.parse_since("2026-11-20") == datetime(2026, 11, 20, tzinfo=UTC)
    assert audit.parse_since("2026-11-20T10:00:00Z") == datetime(2026, 11, 20, 10, tzinfo=UTC)
    with pytest.raises(ValueError):
        audit.parse_since("soon")


def test_audit_rows_are_plain_sql_visible(audit_env: Store) -> None:
    _fill(1)
    with audit_env.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
