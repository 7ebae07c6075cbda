"""Shared fixtures: a real Prefect API, a real PostgreSQL database and a real S3 endpoint.

The Prefect API is llmgenie's own embedded server under a session home, started by the first
test that asks for `prefect_api` (directly or through `usefixtures`); a `PREFECT_API_URL`
already set in the environment is used instead. Prefect reads its settings at import, so the
session's Prefect settings are in the environment before any test module is collected; until a
test asks for the API, `PREFECT_API_URL` points at a port where nothing answers, so a test that
runs a flow without asking fails at once and says why instead of starting a server of its own.

A test that uses a server fixture (`SERVER_FIXTURES`) is marked `slow`; so is every test that
starts a process, by a `pytestmark` in its file. `pytest -m "not slow"` is the fast subset.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import temporary_database
from tests.support.s3 import make_bucket, s3_environment, start_s3_server


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a database created for this test session (dropped at the end)."""
    with temporary_database() as url:
        yield url


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of an empty database of its own for one test."""
    with temporary_database() as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """Endpoint URL of a moto S3 server on loopback, running for the whole session."""
    server, endpoint = start_s3_server()
    try:
        yield endpoint
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A new empty bucket; boto3 in this test talks to the moto endpoint via AWS_ENDPOINT_URL."""
    name = f"llmgenie-{uuid.uuid4().hex[:12]}"
    with s3_environment(monkeypatch, s3_endpoint):
        make_bucket(s3_endpoint, name)
        yield name


#: Fixtures that start a server (or a database): a test using one, even indirectly, is `slow`.
SERVER_FIXTURES = frozenset(
    {"prefect_api", "postgres_url", "fresh_postgres_url", "s3_endpoint", "model_server"}
)

#: `PREFECT_API_URL` until a test asks for `prefect_api`: nothing listens on port 9 (discard).
NO_PREFECT_API = "http://127.0.0.1:9/api-not-started--use-the-prefect_api-fixture"

_session_home: Path | None = None
_configured_api: str | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _session_home, _configured_api
    os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    for key in ("LLMGENIE_LLM", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL"):
        os.environ.pop(key, None)
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex[:12]
    home = Path(tempfile.gettempdir()) / f"llmgenie-tests-{run_id}"
    home.mkdir(parents=True, exist_ok=True)
    os.environ["LLMGENIE_HOME"] = str(home)
    os.environ["LLMGENIE_STEP_RETRY_BASE_DELAY_SECONDS"] = "0.05"
    from llmgenie.core.settings import Settings, get_settings
    from llmgenie.flows.runtime import stop_embedded_server
    from llmgenie.flows.server import prefect_env

    _session_home = home
    _configured_api = os.environ.get("PREFECT_API_URL")
    if not _configured_api:
        for key, value in prefect_env(home).items():
            os.environ.setdefault(key, value)
        os.environ["PREFECT_API_URL"] = NO_PREFECT_API
        if not os.environ.get("PYTEST_XDIST_WORKER"):
            # Ours to stop when the process exits, if a test started it; registered before
            # Prefect is imported, so it runs after Prefect's own exit handlers have flushed
            # their logs to it.
            atexit.register(stop_embedded_server, Settings(home=home))
    get_settings.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SERVER_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def prefect_api() -> str:
    """The session's Prefect API URL: llmgenie's embedded server, started on first use (or the
    `PREFECT_API_URL` set before the session). Prefect, imported already, is refreshed."""
    from llmgenie.core.settings import Settings, get_settings
    from llmgenie.flows.runtime import ensure_prefect_api

    assert _session_home is not None
    if _configured_api is None:
        os.environ.pop("PREFECT_API_URL", None)
    url = ensure_prefect_api(Settings(home=_session_home, server_idle_minutes=10))
    get_settings.cache_clear()
    return url


@pytest.fixture
def llmgenie_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh LLMGENIE_HOME (metadata, artifacts) for one test; Prefect stays the session's."""
    from llmgenie.core.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("LLMGENIE_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
