"""Shared fixtures: a real PostgreSQL database and a real S3 endpoint (see tests/support/)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

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
