"""The leak test: secrets planted in a target never leave it, whatever llmgenie writes.

Twelve secrets of different shapes go into a copy of the example; `llmgenie run` (tool-only,
every agent, knowledge base on, JSON logs at debug, S3 artifacts on moto, an embedded Prefect
API of its own under the test's home) and `llmgenie ask` run as real processes; then every
byte they wrote is searched: the home (metadata database, Prefect's database, ChromaDB's
files, logs), the bucket, stdout and stderr. Prefect's `flow_run.parameters` are read too.

Fake credentials are assembled at run time, random per run, never written whole here.
"""

from __future__ import annotations

import json
import os
import secrets as random_source
import shutil
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.s3 import S3_ENV, make_bucket

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"
_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_ALNUM = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _random(n: int, alphabet: str = _ALNUM) -> str:
    return "".join(random_source.choice(alphabet) for _ in range(n))


def _private_key() -> tuple[str, list[str]]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    body = [line for line in pem.splitlines() if line and not line.startswith("-----")]
    return pem, body[1:-1]  # the full lines of the body: any one of them is the key


def _plant(target: Path) -> dict[str, str]:
    """Copy the example into `target` with secrets planted; {what and where: value}."""
    shutil.copytree(EXAMPLE, target)
    planted = {
        "env DATABASE_URL password (Deployment)": "Pg" + _random(18),
        "env AWS_SECRET_ACCESS_KEY (Deployment)": _random(40, _ALNUM + "/+"),
        "env GITHUB_TOKEN (Deployment)": "ghp_" + _random(36),
        "env API_PASSWORD (Deployment)": "Hunter" + _random(12),
        "AWS access key id (app settings)": "AKIA"
        + _random(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
        "Slack bot token (app settings)": "xoxb-"
        + "-".join([_random(12, "0123456789"), _random(13, "0123456789"), _random(24)]),
        "password in the README": "Rd" + _random(16),
        "password in a Helm values file": "Hv" + _random(16),
        "Terraform variable default": "Tf" + _random(16),
        "compose POSTGRES_PASSWORD": "Co" + _random(16),
        "password in a Redis URL (compose)": "Ru" + _random(16),
    }
    pem, key_lines = _private_key()
    for n, line in enumerate(key_lines[:3]):
        planted[f"private key line {n + 1} (certs/tls.key)"] = line

    api = target / "deploy" / "api.yaml"
    api.write_text(
        api.read_text().replace(  # just above `privileged: true`: in a patch's context lines
            "          securityContext:\n            privileged: true\n",
            "            - name: DATABASE_URL\n"
            "              value: postgres://shop:"
            f"{planted['env DATABASE_URL password (Deployment)']}@db:5432/shop\n"
            "            - name: AWS_SECRET_ACCESS_KEY\n"
            f'              value: "{planted["env AWS_SECRET_ACCESS_KEY (Deployment)"]}"\n'
            "            - name: GITHUB_TOKEN\n"
            f"              value: {planted['env GITHUB_TOKEN (Deployment)']}\n"
            "            - name: API_PASSWORD\n"
            f"              value: {planted['env API_PASSWORD (Deployment)']}\n"
            "          securityContext:\n            privileged: true\n",
        )
    )
    (target / "app" / "settings.py").write_text(
        '"""Settings of the shop (do not do this)."""\n\n'
        f'AWS_ACCESS_KEY_ID = "{planted["AWS access key id (app settings)"]}"\n'
        f'SLACK_TOKEN = "{planted["Slack bot token (app settings)"]}"\n'
    )
    readme = target / "README.md"
    readme.write_text(
        readme.read_text()
        + "\n## Database credentials\n\n"
        + "The staging database is `db.shop.internal`; log in as `shop` with\n"
        + f"password: {planted['password in the README']}\n"
    )
    chart = target / "charts" / "shop"
    chart.mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: shop\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text(
        "postgresql:\n  auth:\n    username: shop\n"
        f"    password: {planted['password in a Helm values file']}\n"
    )
    tf = target / "infra"
    tf.mkdir()
    (tf / "variables.tf").write_text(
        'variable "db_password" {\n  type    = string\n'
        f'  default = "{planted["Terraform variable default"]}"\n}}\n'
    )
    compose = target / "docker-compose.yaml"
    compose.write_text(
        compose.read_text().replace(
            "      REDIS_URL: redis://cache:6379/0\n",
            f"      REDIS_URL: redis://:{planted['password in a Redis URL (compose)']}"
            "@cache:6379/0\n"
            f"      POSTGRES_PASSWORD: {planted['compose POSTGRES_PASSWORD']}\n",
        )
    )
    (target / "certs").mkdir()
    (target / "certs" / "tls.key").write_text(pem)
    return planted


def _bucket_objects(endpoint: str, bucket: str) -> Iterator[tuple[str, bytes]]:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
    )
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for obj in page.get("Contents", []):
            yield obj["Key"], client.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()


def _leaks(planted: dict[str, str], where: str, data: bytes) -> list[str]:
    return [f"{what} in {where}" for what, value in planted.items() if value.encode() in data]


@pytest.fixture(scope="module")
def s3_bucket_of_module(s3_endpoint: str) -> str:
    name = f"llmgenie-leaks-{uuid.uuid4().hex[:8]}"
    make_bucket(s3_endpoint, name)
    return name


@pytest.fixture(scope="module")
def leak_run(
    tmp_path_factory: pytest.TempPathFactory, s3_endpoint: str, s3_bucket_of_module: str
) -> Iterator[tuple[dict[str, str], Path, dict[str, bytes]]]:
    """Plant, run and ask in processes of their own; (planted, home, {stream: bytes}).

    Once for the module: a run takes tens of seconds, and each test reads a part of it."""
    tmp_path = tmp_path_factory.mktemp("leaks")
    s3_bucket = s3_bucket_of_module
    target = tmp_path / "shop"
    planted = _plant(target)
    home = tmp_path / "home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PREFECT_", "LLMGENIE_")) and k not in ("AWS_ENDPOINT_URL",)
    }
    env.update(S3_ENV)
    env.update(
        {
            "LLMGENIE_HOME": str(home),
            "LLMGENIE_LLM": "none",
            "LLMGENIE_LOG_FORMAT": "json",
            "LLMGENIE_LOG_LEVEL": "DEBUG",
            "LLMGENIE_ARTIFACTS_URL": f"s3://{s3_bucket}/llmgenie",
            "AWS_ENDPOINT_URL": s3_endpoint,
            "AWS_CONFIG_FILE": "/nonexistent/llmgenie-test-aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/llmgenie-test-aws-creds",
            "LLMGENIE_SERVER_IDLE_MINUTES": "5",
        }
    )
    cli = [sys.executable, "-m", "llmgenie"]
    streams: dict[str, bytes] = {}
    try:
        run = subprocess.run(
            [*cli, "run", "audit, fix and document the shop", "--target", str(target),
             "--agents", "security,devops,performance,documentation", "--format", "json"],
            env=env, capture_output=True, timeout=600, check=False,
        )  # fmt: skip
        streams["run stdout"], streams["run stderr"] = run.stdout, run.stderr
        assert run.returncode in (0, 1), run.stderr.decode()[-2000:]
        for n, question in enumerate(
            ["what are the database credentials?", "what is the password of the database?"]
        ):
            asked = subprocess.run(
                [*cli, "ask", question, "--target", str(target)],
                env=env, capture_output=True, timeout=300, check=False,
            )  # fmt: skip
            streams[f"ask {n + 1} stdout"], streams[f"ask {n + 1} stderr"] = (
                asked.stdout,
                asked.stderr,
            )
        shown = subprocess.run(
            [*cli, "runs", "list", "--format", "json"],
            env=env, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        streams["runs list"] = shown.stdout + shown.stderr
        task_id = json.loads(run.stdout)["task_id"]
        for fmt in ("json", "md"):
            shown = subprocess.run(
                [*cli, "runs", "show", task_id, "--format", fmt],
                env=env, capture_output=True, timeout=300, check=False,
            )  # fmt: skip
            assert shown.returncode == 0, shown.stderr.decode()[-2000:]
            streams[f"runs show --format {fmt}"] = shown.stdout + shown.stderr
        yield planted, home, streams
    finally:
        from llmgenie.core.settings import Settings
        from llmgenie.flows.runtime import stop_embedded_server

        stop_embedded_server(Settings(home=home))


def test_the_scan_reports_the_planted_secrets(
    leak_run: tuple[dict[str, str], Path, dict[str, bytes]],
) -> None:
    """The secrets are found, masked (else "nothing leaked" might only mean "nothing seen")."""
    _planted, _home, streams = leak_run
    report = json.loads(streams["run stdout"])
    files = {f["file"] for f in report["findings"] if "secret" in f["category"]}
    assert files >= {
        "deploy/api.yaml",
        "app/settings.py",
        "README.md",
        "charts/shop/values.yaml",
        "infra/variables.tf",
        "docker-compose.yaml",
        "certs/tls.key",
    }


def test_no_planted_secret_leaves_the_target(
    leak_run: tuple[dict[str, str], Path, dict[str, bytes]],
    s3_endpoint: str,
    s3_bucket_of_module: str,
) -> None:
    planted, home, streams = leak_run
    s3_bucket = s3_bucket_of_module
    leaks: list[str] = []
    for name, data in streams.items():
        leaks += _leaks(planted, name, data)
    for path in sorted(p for p in home.rglob("*") if p.is_file()):
        leaks += _leaks(planted, str(path.relative_to(home)), path.read_bytes())
    objects = list(_bucket_objects(s3_endpoint, s3_bucket))
    assert objects, "the run stored nothing in the bucket"
    for key, data in objects:
        leaks += _leaks(planted, f"s3://{s3_bucket}/{key}", data)
    assert not leaks, "\n".join(leaks)


def test_no_planted_secret_in_prefect_flow_run_parameters(
    leak_run: tuple[dict[str, str], Path, dict[str, bytes]],
) -> None:
    planted, home, _streams = leak_run
    databases = [p for p in home.rglob("*.db") if "prefect" in str(p)]
    assert databases, f"no Prefect database under {home}"
    leaks: list[str] = []
    for db in databases:
        with sqlite3.connect(db) as conn:
            tables = {r[0] for r in conn.execute("select name from sqlite_master")}
            if "flow_run" not in tables:
                continue
            rows = conn.execute("select name, parameters from flow_run").fetchall()
            assert rows, "no flow runs recorded"
            for name, parameters in rows:
                leaks += _leaks(planted, f"flow_run {name}", str(parameters).encode())
    assert not leaks, "\n".join(leaks)
