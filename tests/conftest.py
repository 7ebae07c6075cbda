"""Shared fixtures: a real Prefect API, a real PostgreSQL database and a real S3 endpoint.

The Prefect API is llmgenie's own embedded server, started once per test session before any
test module imports Prefect (Prefect reads its settings at import), under a session home.
A `PREFECT_API_URL` already set in the environment is used instead.
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


def pytest_configure(config: pytest.Config) -> None:
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
    from llmgenie.flows.runtime import ensure_prefect_api, stop_embedded_server

    if not os.environ.get("PREFECT_API_URL") and not os.environ.get("PYTEST_XDIST_WORKER"):
        # Ours to stop when the process exits; registered first, so it runs after Prefect's own
        # exit handlers have flushed their logs to it.
        atexit.register(stop_embedded_server, Settings(home=home))
    ensure_prefect_api(Settings(home=home, server_idle_minutes=10))
    get_settings.cache_clear()


@pytest.fixture
def llmgenie_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh LLMGENIE_HOME (metadata, artifacts) for one test; Prefect stays the session's."""
    from llmgenie.core.settings import get_settings

    home = tmp_path / "home"
    monkeypatch.setenv("LLMGENIE_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
