"""Schema migrations, run programmatically from the Alembic scripts shipped in the package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

__all__ = [
    "VERSION_TABLE",
    "SchemaTooNewError",
    "check_schema",
    "current_revision",
    "downgrade",
    "head_revision",
    "upgrade",
]

VERSION_TABLE = "llmgenie_schema_version"
_SCRIPTS = Path(__file__).with_name("migrations")
# Any constant: serialises concurrent migrations of one PostgreSQL database.
_PG_LOCK_ID = 0x6C6C6D67656E6965 & 0x7FFFFFFFFFFFFFFF


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer llmgenie than this one."""


def _config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = VERSION_TABLE
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        return ctx.get_current_revision()


def check_schema(engine: Engine) -> str | None:
    """The database's revision; raises SchemaTooNewError if this code does not know it."""
    current = current_revision(engine)
    if current is None:
        return None
    known = {rev.revision for rev in _script().walk_revisions()}
    if current not in known:
        raise SchemaTooNewError(
            f"database schema revision {current!r} is newer than this llmgenie knows "
            f"(latest {head_revision()!r}); upgrade llmgenie or point LLMGENIE_DATABASE_URL "
            "at another database"
        )
    return current


def _run(engine: Engine, fn: str, revision: str) -> None:
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # Batch migrations rebuild tables: with foreign keys on, dropping the old `tasks`
            # would cascade-delete every step and finding. (A no-op inside a transaction,
            # so it runs before the migration's BEGIN.)
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK_ID})
                getattr(command, fn)(_config(conn), revision)
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


def upgrade(engine: Engine, revision: str = "head") -> None:
    check_schema(engine)
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str = "-1") -> None:
    _run(engine, "downgrade", revision)
