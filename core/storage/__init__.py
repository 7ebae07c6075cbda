"""Persistence: the metadata database (SQLAlchemy + Alembic), the artifact store, history, drift.

`open_store()` is the entry point: one `Store` per (database, artifacts) location and process,
migrated on open, with tasks whose process died marked `interrupted`.
"""

from __future__ import annotations

import threading

from llmgenie.core.settings import Settings, get_settings
from llmgenie.core.storage.backends import (
    ArtifactUnavailableError,
    LocalArtifactBackend,
    S3ArtifactBackend,
    make_backend,
)
from llmgenie.core.storage.db import make_engine
from llmgenie.core.storage.migrate import SchemaTooNewError
from llmgenie.core.storage.store import Store
from llmgenie.core.storage.tasks import AmbiguousTaskIdError, Drift, TaskListing

__all__ = [
    "AmbiguousTaskIdError",
    "ArtifactUnavailableError",
    "Drift",
    "LocalArtifactBackend",
    "S3ArtifactBackend",
    "SchemaTooNewError",
    "Store",
    "TaskListing",
    "close_stores",
    "open_store",
]

_stores: dict[tuple[str, str, str, str | None], Store] = {}
_lock = threading.Lock()


def open_store(settings: Settings | None = None, *, migrate: bool = True) -> Store:
    """The process's Store for these settings: created once, migrated, stale tasks marked."""
    from llmgenie.core.storage import migrate as migrations

    settings = settings or get_settings()
    key = (
        settings.resolved_database_url,
        settings.resolved_artifacts_url,
        str(settings.home),
        settings.artifacts_sse,
    )
    with _lock:
        store = _stores.get(key)
        if store is not None:
            return store
        engine = make_engine(settings.resolved_database_url)
        try:
            if not migrations.is_current(engine):
                current = migrations.check_schema(engine)
                if migrate and current != migrations.HEAD_REVISION:
                    migrations.upgrade(engine)
            store = Store(
                settings,
                engine,
                make_backend(settings.resolved_artifacts_url, sse=settings.artifacts_sse),
            )
            store.mark_interrupted()
        except BaseException:
            engine.dispose()
            raise
        _stores[key] = store
        return store


def close_stores() -> None:
    """Dispose every cached Store's connections (tests, and before a fork)."""
    with _lock:
        for store in _stores.values():
            store.close()
        _stores.clear()
