"""Storage fixtures: every test runs against SQLite and a real PostgreSQL database.

`db_url` is a migrated-or-empty database with no rows (PostgreSQL: one database per session,
emptied before each test); `fresh_db_url` is a brand-new empty database, for migrations.
The PostgreSQL cases are `slow` (a server); the SQLite ones are in the fast subset.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgenie.core.settings import Settings, get_settings
from llmgenie.core.storage import Store, close_stores, open_store
from tests.support.postgres import temporary_database, truncate_tables


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'meta.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    truncate_tables(url)
    yield url
    close_stores()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def fresh_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with temporary_database() as url:
        yield url
        close_stores()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=db_url)


@pytest.fixture
def fresh_settings(fresh_db_url: str, tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", database_url=fresh_db_url)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    yield open_store(settings)
    close_stores()


def _cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    monkeypatch.setenv("LLMGENIE_HOME", str(settings.home))
    monkeypatch.setenv("LLMGENIE_DATABASE_URL", settings.resolved_database_url)
    get_settings.cache_clear()
    yield get_settings()
    close_stores()
    get_settings.cache_clear()


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The environment a `llmgenie` command reads, pointing at this test's database."""
    yield from _cli_env(settings, monkeypatch)


@pytest.fixture
def fresh_cli_env(fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    yield from _cli_env(fresh_settings, monkeypatch)
