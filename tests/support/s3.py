"""A real S3 HTTP endpoint on loopback (moto's server mode) for tests that talk boto3.

`start_s3_server()` returns a running `ThreadedMotoServer` and its endpoint URL; `s3_environment`
points boto3 at it through the usual variables (`AWS_ENDPOINT_URL`, credentials, region).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.support.net import free_port

__all__ = ["S3_ENV", "make_bucket", "s3_environment", "start_s3_server"]

#: Fake credentials: moto accepts anything, boto3 only needs some.
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def start_s3_server():  # -> tuple[ThreadedMotoServer, str]
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server, f"http://127.0.0.1:{port}"


@contextmanager
def s3_environment(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> Iterator[None]:
    for name, value in S3_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    # A developer's ~/.aws must not change what the tests talk to.
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/llmgenie-test-aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/llmgenie-test-aws-creds")
    yield


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=name)
