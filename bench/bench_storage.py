"""Storage throughput: 10,000 findings written and read on SQLite and PostgreSQL, and artifact
uploads to a local S3 endpoint (moto's server, on loopback).

    .venv/bin/python bench/bench_storage.py [--findings 10000] [--no-postgres]

PostgreSQL: 127.0.0.1:5432, user postgres (override with LLMGENIE_BENCH_POSTGRES, a libpq DSN
of an admin database); the benchmark creates and drops its own database.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from llmgenie.core.models import (
    AgentReport,
    Finding,
    Plan,
    Severity,
    Step,
    StepStatus,
    Target,
    TargetKind,
    Task,
    TaskReport,
    TaskStatus,
    utcnow,
)
from llmgenie.core.settings import Settings
from llmgenie.core.storage import S3ArtifactBackend, close_stores, open_store
from tests.support.net import free_port

_ADMIN_DSN = os.environ.get(
    "LLMGENIE_BENCH_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
_MB = 1024 * 1024


def _report(n: int) -> tuple[Task, TaskReport]:
    sev = list(Severity)
    findings = [
        Finding(
            rule_id=f"LG-K8S-{i % 40:03d}",
            category="k8s.privileged",
            severity=sev[i % 5],
            agent="security",
            title="Container runs privileged",
            message=f"container c{i} sets securityContext.privileged: true",
            file=f"deploy/app-{i % 500}.yaml",
            line=i % 300 + 1,
            resource=f"Deployment/shop/app-{i}",
            evidence=f"containers[c{i}].securityContext.privileged: true",
            remediation="set securityContext.privileged to false",
            references=["CIS Kubernetes 5.2.1"],
        )
        for i in range(n)
    ]
    task = Task(text="bench", target=Target(location="bench", kind=TargetKind.folder))
    now = utcnow()
    step = AgentReport(
        id="security", agent="security", status=StepStatus.completed, findings=findings
    )
    return task, TaskReport(
        task_id=task.id,
        task=task.text,
        target="bench",
        status=TaskStatus.completed,
        plan=Plan(steps=[Step(id="security", agent="security")]),
        steps=[step],
        findings=findings,
        started_at=now - timedelta(seconds=1),
        finished_at=now,
    )


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextmanager
def _postgres() -> Iterator[str]:
    import psycopg

    name = f"llmgenie_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        info = conn.info
        url = f"postgresql+psycopg://{info.user}@{info.host}:{info.port}/{name}"
    try:
        yield url
    finally:
        close_stores()
        with psycopg.connect(_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench_findings(label: str, db_url: str, home: Path, n: int) -> list[tuple[str, str, str]]:
    settings = Settings(home=home, database_url=db_url)
    store = open_store(settings)
    task, report = _report(n)
    store.task_started(task)
    rows = 2 * n  # each finding is stored for its step and for the merged task report
    write = _timed(lambda: store.task_finished(report))
    read_back: list[TaskReport | None] = []
    read = _timed(lambda: read_back.append(store.get_report(task.id)))
    got = read_back[0]
    assert got is not None and len(got.findings) == n and len(got.steps[0].findings) == n
    close_stores()
    return [
        (
            f"{label}: store report, {n:,} findings",
            f"{write:.2f} s",
            f"{n / write:,.0f} findings/s ({rows / write:,.0f} rows/s, incl. report files)",
        ),
        (
            f"{label}: read report back",
            f"{read:.2f} s",
            f"{n / read:,.0f} findings/s ({rows / read:,.0f} rows/s)",
        ),
    ]


def bench_s3() -> list[tuple[str, str, str]]:
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    out = []
    try:
        boto3.client("s3").create_bucket(Bucket="bench")
        backend = S3ArtifactBackend("s3://bench/llmgenie")
        for label, size, count in (
            ("small objects (64 KiB)", 64 * 1024, 200),
            ("multipart objects (32 MiB)", 32 * _MB, 4),
        ):
            blobs = [os.urandom(size) for _ in range(count)]
            digests = [hashlib.sha256(b).hexdigest() for b in blobs]

            def upload(
                blobs: list[bytes] = blobs, digests: list[str] = digests, size: int = size
            ) -> None:
                for i, (b, d) in enumerate(zip(blobs, digests, strict=True)):
                    backend.put(f"tasks/bench/_task/{size}-{i}", b, "application/octet-stream", d)

            t = _timed(upload)
            total = size * count
            out.append(
                (
                    f"S3 upload: {count} x {label}",
                    f"{t:.2f} s",
                    f"{total / _MB / t:,.1f} MiB/s, {count / t:,.1f} objects/s",
                )
            )
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, default=10_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        rows += bench_findings(
            "SQLite", f"sqlite:///{home / 'bench.db'}", home / "sqlite", args.findings
        )
        if not args.no_postgres:
            with _postgres() as url:
                rows += bench_findings("PostgreSQL", url, home / "pg", args.findings)
    rows += bench_s3()
    width = max(len(r[0]) for r in rows)
    print(f"{'benchmark':<{width}}  {'time':>8}  throughput")
    print(f"{'-' * width}  {'-' * 8}  {'-' * 40}")
    for name, t, rate in rows:
        print(f"{name:<{width}}  {t:>8}  {rate}")


if __name__ == "__main__":
    main()
