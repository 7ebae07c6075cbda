"""Throw-away PostgreSQL databases on the CI server (127.0.0.1:5432, user postgres, trust auth).

Each helper creates its own uniquely named database and drops it afterwards; the `postgres`
and `test` databases are only used to issue CREATE/DROP DATABASE, never written to.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg.conninfo
import pytest

__all__ = [
    "ADMIN_DSN",
    "create_database",
    "drop_database",
    "postgres_available",
    "temporary_database",
    "truncate_tables",
]

#: Where the server is; override with LLMGENIE_TEST_POSTGRES (a libpq DSN of the admin database).
ADMIN_DSN = os.environ.get(
    "LLMGENIE_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)


def _admin() -> psycopg.Connection:
    return psycopg.connect(ADMIN_DSN, autocommit=True, connect_timeout=5)


def postgres_available() -> bool:
    try:
        with _admin():
            return True
    except psycopg.Error:
        return False


def create_database(prefix: str = "llmgenie_test") -> str:
    """Create an empty database; returns its SQLAlchemy URL (postgresql+psycopg://…)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        info = conn.info
        host, port, user = info.host, info.port, info.user
    return f"postgresql+psycopg://{user}@{host}:{port}/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    if not name.startswith("llmgenie_") or name in {"postgres", "test"}:
        raise ValueError(f"refusing to drop {name!r}: not a database these helpers created")
    with _admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def temporary_database(prefix: str = "llmgenie_test") -> Iterator[str]:
    """A fresh database for the block; skips the test when no server answers."""
    if not postgres_available():
        pytest.skip(f"no PostgreSQL server at {ADMIN_DSN!r}")
    url = create_database(prefix)
    try:
        yield url
    finally:
        # Engines cached by the code under test may still hold connections: FORCE drops them.
        drop_database(url)


def truncate_tables(url: str, keep: tuple[str, ...] = ("llmgenie_schema_version",)) -> None:
    """Empty every table of the database (schema and migrations stay): a clean slate per test."""
    name = url.rsplit("/", 1)[1].split("?", 1)[0]
    if not name.startswith("llmgenie_"):
        raise ValueError(f"refusing to truncate {name!r}: not a database these helpers created")
    dsn = psycopg.conninfo.make_conninfo(ADMIN_DSN, dbname=name)
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
            if r[0] not in keep
        ]
        if tables:
            conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")
