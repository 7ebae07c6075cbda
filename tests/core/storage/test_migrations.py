"""Migrations on SQLite and PostgreSQL: from empty, one step down, up again; newer refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from llmgenie.core.settings import Settings
from llmgenie.core.storage import SchemaTooNewError, close_stores, open_store
from llmgenie.core.storage import migrate as migrations
from llmgenie.core.storage.db import make_engine
from llmgenie.core.storage.tables import Base
from tests.support.cli import run_cli
from tests.support.reports import make_report, make_task

_TABLES = {"tasks", "steps", "attempts", "findings", "artifacts", "audit_events", "audit_head"}


def test_upgrade_from_empty_downgrade_one_step_and_upgrade_again(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        assert migrations.current_revision(engine) is None
        assert not migrations.is_current(engine)
        migrations.upgrade(engine)
        head = migrations.head_revision()
        assert migrations.current_revision(engine) == head
        assert migrations.is_current(engine)
        assert set(inspect(engine).get_table_names()) >= _TABLES
        assert "heartbeat_at" in {c["name"] for c in inspect(engine).get_columns("tasks")}

        migrations.downgrade(engine, "-1")
        assert migrations.current_revision(engine) == "0002"
        assert "audit_seq" not in {c["name"] for c in inspect(engine).get_columns("tasks")}
        migrations.downgrade(engine, "0001")
        assert migrations.current_revision(engine) == "0001"
        assert not migrations.is_current(engine)
        columns = {c["name"] for c in inspect(engine).get_columns("tasks")}
        assert "heartbeat_at" not in columns and "target_key" not in columns

        migrations.upgrade(engine)
        assert migrations.current_revision(engine) == head
        assert "target_key" in {c["name"] for c in inspect(engine).get_columns("tasks")}
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_models(fresh_db_url: str) -> None:
    engine = make_engine(fresh_db_url)
    try:
        migrations.upgrade(engine)
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diffs = [
                d
                for d in compare_metadata(ctx, Base.metadata)
                if not (d[0] == "remove_table" and d[1].name == migrations.VERSION_TABLE)
            ]
        assert diffs == []
    finally:
        engine.dispose()


def test_data_survives_downgrade_and_upgrade(fresh_settings: Settings) -> None:
    settings = fresh_settings
    store = open_store(settings)
    task = make_task()
    store.task_started(task)
    store.task_finished(make_report(task))
    close_stores()
    engine = make_engine(settings.resolved_database_url)
    try:
        migrations.downgrade(engine, "-1")
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    report = open_store(settings).get_report(task.id)
    close_stores()
    assert report is not None and len(report.findings) == 3


def test_open_store_refuses_a_schema_newer_than_the_code(
    fresh_settings: Settings, fresh_cli_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = fresh_settings
    open_store(settings)
    close_stores()
    engine = make_engine(settings.resolved_database_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = '9999'"))
    engine.dispose()

    with pytest.raises(SchemaTooNewError, match="'9999' is newer than this llmgenie knows"):
        open_store(settings)

    code, _out, err = run_cli(capsys, "runs", "list")
    assert code == 2
    assert "newer than this llmgenie knows" in err and "Traceback" not in err
    code, _out, err = run_cli(capsys, "db", "upgrade")
    assert code == 2 and "9999" in err


def test_db_upgrade_command(fresh_cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "db", "upgrade")
    assert code == 0 and f"empty -> {migrations.head_revision()}" in out
    code, out, _ = run_cli(capsys, "db", "upgrade")
    assert code == 0 and "already at" in out
    code, out, _ = run_cli(capsys, "db", "status")
    assert code == 0 and migrations.head_revision() in out


def test_head_revision_constant_is_alembics_head() -> None:
    """`HEAD_REVISION` lets an up-to-date database skip Alembic; a new script must move it."""
    assert migrations.head_revision() == migrations.HEAD_REVISION


_OPEN_TWICE = """
import sys
from llmgenie.core.settings import Settings
from llmgenie.core.storage import close_stores, open_store

settings = Settings(database_url=sys.argv[1])
open_store(settings)  # migrates a new database: Alembic runs
close_stores()
for name in [m for m in sys.modules if m == "alembic" or m.startswith("alembic.")]:
    del sys.modules[name]
open_store(settings)  # at head: one query, no Alembic
print("alembic" in sys.modules)
"""


@pytest.mark.slow
def test_a_database_at_head_opens_without_importing_alembic(tmp_path: Path) -> None:
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    run = subprocess.run(
        [sys.executable, "-c", _OPEN_TWICE, url], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split()[-1] == "False"
