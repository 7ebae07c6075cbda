"""The guarded patches of Prefect and Alembic internals: off a tested version, or with an
attribute gone, a patch changes nothing and says so in one line (the fail-open path)."""

from __future__ import annotations

import pytest

from llmgenie.flows import prefect_patches


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "patch skipped" in line]


def test_an_untested_prefect_version_leaves_prefect_as_it_ships(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.server.database.configurations import AioSqliteConfiguration
    from prefect.server.services import task_run_recorder

    begin = AioSqliteConfiguration.begin_transaction
    record = task_run_recorder._record_bulk_task_run_events
    monkeypatch.setitem(prefect_patches.TESTED, "prefect", ">=99")

    assert prefect_patches.serialize_sqlite_writes() is False

    assert AioSqliteConfiguration.begin_transaction is begin
    assert task_run_recorder._record_bulk_task_run_events is record
    (line,) = _warnings(capsys.readouterr().err)
    assert "serialize SQLite writes" in line and "outside the tested range >=99" in line


def test_a_missing_attribute_patches_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from prefect.server.database.configurations import AioSqliteConfiguration
    from prefect.server.services import task_run_recorder

    begin = AioSqliteConfiguration.begin_transaction
    monkeypatch.delattr(task_run_recorder, "_record_bulk_task_run_events")

    assert prefect_patches.serialize_sqlite_writes() is False

    assert AioSqliteConfiguration.begin_transaction is begin  # not half of the patch either
    (line,) = _warnings(capsys.readouterr().err)
    assert "has no prefect.server.services.task_run_recorder:_record_bulk_task_run_events" in line


def test_an_untested_alembic_version_keeps_alembics_own_batch_mode(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alembic.operations import Operations

    rebuild = Operations.batch_alter_table
    monkeypatch.setitem(prefect_patches.TESTED, "alembic", "<1")

    assert prefect_patches.migrate_without_resolving_foreign_keys() is False

    assert Operations.batch_alter_table is rebuild
    (line,) = _warnings(capsys.readouterr().err)
    assert "alembic" in line and "outside the tested range <1" in line
