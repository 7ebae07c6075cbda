"""Schema migrations, run programmatically from the Alembic scripts shipped in the package.

Alembic is imported only when a database is not at `HEAD_REVISION`: a run against an up-to-date
database reads one row instead (Alembic's import is ~130 ms of every `llmgenie run`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = [
    "HEAD_REVISION",
    "VERSION_TABLE",
    "SchemaTooNewError",
    "check_schema",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_current",
    "upgrade",
]

VERSION_TABLE = "llmgenie_schema_version"
#: The newest script in migrations/versions; a test holds it to Alembic's own head.
HEAD_REVISION = "0003"
_SCRIPTS = Path(__file__).with_name("migrations")
# Any constant: serialises concurrent migrations of one PostgreSQL database.
_PG_LOCK_ID = 0x6C6C6D67656E6965 & 0x7FFFFFFFFFFFFFFF


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer llmgenie than this one."""


def _config(connection: Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = VERSION_TABLE
    return cfg


def _script() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return head


def is_current(engine: Engine) -> bool:
    """Whether the database is at `HEAD_REVISION`, read without Alembic; False when unsure."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    except DBAPIError:  # no version table yet: a new database
        return False
    return [r[0] for r in rows] == [HEAD_REVISION]


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

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
                from alembic import command

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
