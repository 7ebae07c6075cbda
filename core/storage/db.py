"""Database engines: URL normalisation, pooling with pre-ping, timeouts, retries on disconnects."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

__all__ = [
    "database_unreachable",
    "db_error_line",
    "is_transient",
    "make_engine",
    "normalize_url",
    "safe_url",
    "transaction",
    "with_retries",
]

T = TypeVar("T")

_CONNECT_TIMEOUT_S = 10
_STATEMENT_TIMEOUT_MS = 60_000
_SQLITE_BUSY_TIMEOUT_S = 30


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable URL>"


def db_error_line(exc: DBAPIError) -> str:
    """The driver's own first line ("connection failed: … Connection refused"), for messages."""
    return str(exc.orig or exc).strip().splitlines()[0]


def normalize_url(url: str) -> URL:
    """`postgres://` and `postgresql://` go through psycopg 3, the driver llmgenie ships with."""
    parsed = make_url(url)
    if parsed.drivername in {"postgres", "postgresql"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str) -> Engine:
    parsed = normalize_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        connect_args = {
            "connect_timeout": _CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={_STATEMENT_TIMEOUT_MS}",
            "application_name": "llmgenie",
        }
    return create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_timeout=30,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    # WAL: readers do not block the writer (the API and a run may share one file).
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def is_transient(exc: BaseException) -> bool:
    """A dropped connection, a failover, a locked SQLite file: worth one more try."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError)


def database_unreachable(exc: DBAPIError) -> bool:
    """The metadata database did not answer (refused, dropped, gone), as against a bad write."""
    if exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError)


def with_retries(fn: Callable[[], T], *, attempts: int = 4, base_delay: float = 0.2) -> T:
    """Run `fn` (one whole transaction) again after a transient database error, with backoff."""
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except DBAPIError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            time.sleep(base_delay * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def transaction(engine: Engine, fn: Callable[[Session], T]) -> T:
    """`fn(session)` in one transaction, committed on return; again after a transient error."""

    def run() -> T:
        with Session(engine, expire_on_commit=False) as session, session.begin():
            return fn(session)

    return with_retries(run)
