"""The embedded API server's patches of Prefect and Alembic internals, each guarded, in one place.

Each patch replaces named attributes of an installed package, and only on the versions it was
tested with (`TESTED`) and while every attribute it replaces exists. Otherwise it changes
nothing and logs one line: the server still works as Prefect ships it, only slower. Both run in
the server process only (flows/server.py). See docs/decisions/0024-guarded-prefect-patches.md.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
from collections.abc import Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from llmgenie.core.logging import get_logger

__all__ = ["TESTED", "migrate_without_resolving_foreign_keys", "serialize_sqlite_writes"]

#: The versions each patched package was tested with. Prefect's names are private: a new minor
#: release turns its patch off until someone reruns tests/flows/test_server.py and widens this.
#: Alembic's is its public `batch_alter_table(reflect_kwargs=...)`.
TESTED: dict[str, str] = {"prefect": ">=3.9,<3.10", "alembic": ">=1.14,<2"}


def _attribute(target: str) -> Any:
    """`package.module:Class.attribute` -> that object, or None when any part is gone."""
    module_name, _, path = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError:
        return None
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _guarded(
    name: str, package: str, *targets: str
) -> Callable[[Callable[[], None]], Callable[[], bool]]:
    """Apply the decorated patch only on a tested `package` version with every target present.

    The patch function then returns True; otherwise it returns False, changed nothing and
    logged one warning saying why.
    """

    def wrap(patch: Callable[[], None]) -> Callable[[], bool]:
        @functools.wraps(patch)
        def apply() -> bool:
            reason = _why_not(package, targets)
            if reason:
                get_logger(__name__).warning(
                    "patch skipped, server runs unpatched", patch=name, reason=reason
                )
                return False
            patch()
            return True

        return apply

    return wrap


def _why_not(package: str, targets: tuple[str, ...]) -> str | None:
    try:
        installed = version(package)
        if Version(installed) not in SpecifierSet(TESTED[package]):
            return f"{package} {installed} is outside the tested range {TESTED[package]}"
    except (PackageNotFoundError, InvalidVersion) as exc:
        return f"{package} version unknown ({exc})"
    missing = [t for t in targets if _attribute(t) is None]
    if missing:
        return f"{package} {installed} has no {', '.join(missing)}"
    return None


@_guarded(
    "migrate without resolving foreign keys",
    "alembic",
    "alembic.operations:Operations.batch_alter_table",
)
def migrate_without_resolving_foreign_keys() -> None:
    """Let Prefect's SQLite migrations reflect only the table they rebuild.

    On SQLite most of Prefect's ~200 migrations rebuild a table (Alembic's batch mode), and
    to do that Alembic reflects it, by default with every table its foreign keys point to,
    recursively: 40% of a new database's migration time here (6.0 s -> 3.5 s without). The
    rebuilt table's foreign keys name the tables they point to either way, so the schema is the
    same; `tests/flows/test_server.py` compares the two. Applied in the server process only,
    when a new home has no template database to start from.
    """
    from alembic.operations import Operations

    rebuild = Operations.batch_alter_table

    @functools.wraps(rebuild)
    def batch_alter_table(self: Operations, *args: Any, **kwargs: Any) -> Any:
        kwargs["reflect_kwargs"] = {"resolve_fks": False, **kwargs.get("reflect_kwargs", {})}
        return rebuild(self, *args, **kwargs)

    Operations.batch_alter_table = batch_alter_table  # type: ignore[method-assign]


@_guarded(
    "serialize SQLite writes",
    "prefect",
    "prefect.server.database.configurations:AioSqliteConfiguration.begin_transaction",
    "prefect.server.services.task_run_recorder:_record_bulk_task_run_events",
)
def serialize_sqlite_writes() -> None:
    """Run the embedded API's SQLite writes one at a time, in the server process.

    SQLite admits one writer; concurrent writers otherwise meet in SQLite's busy handler, which
    sleeps in steps of up to 100 ms, or fail at once with SQLITE_BUSY_SNAPSHOT (a 503 to the
    client, retried). Queueing them on an asyncio lock costs microseconds. Re-entrant per task,
    since Prefect nests transactions. Two paths write: API handlers through `begin_transaction`,
    and the task-run recorder, which writes its batches in a session of its own and commits
    itself; left out, it made ~2.5 of every subflow's requests fail with "database is locked".
    Do not remove either half (docs/decisions/0002-embedded-prefect-api.md).
    """
    from prefect.server.database.configurations import AioSqliteConfiguration
    from prefect.server.services import task_run_recorder

    lock = asyncio.Lock()
    holding: ContextVar[bool] = ContextVar("llmgenie_sqlite_lock_held", default=False)

    @asynccontextmanager
    async def one_writer() -> Any:
        if holding.get():
            yield
            return
        async with lock:
            token = holding.set(True)
            try:
                yield
            finally:
                holding.reset(token)

    begin = AioSqliteConfiguration.begin_transaction

    @asynccontextmanager
    async def begin_transaction(self: Any, session: Any, with_for_update: bool = False) -> Any:
        async with one_writer(), begin(self, session, with_for_update=with_for_update) as tx:
            yield tx

    record = task_run_recorder._record_bulk_task_run_events

    async def record_bulk_task_run_events(events: list[Any]) -> None:
        async with one_writer():
            await record(events)

    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]
    task_run_recorder._record_bulk_task_run_events = record_bulk_task_run_events
