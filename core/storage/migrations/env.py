"""Alembic environment: runs on the connection llmgenie hands over (no alembic.ini needed)."""

from __future__ import annotations

from alembic import context

from llmgenie.core.storage.db import make_engine
from llmgenie.core.storage.tables import Base

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=config.attributes.get("version_table", "llmgenie_schema_version"),
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is None:
    with make_engine(config.get_main_option("sqlalchemy.url") or "").connect() as conn:
        _run(conn)
        conn.commit()
else:
    _run(connection)
