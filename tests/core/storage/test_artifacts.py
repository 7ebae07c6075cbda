"""Artifact stores against a real S3 HTTP endpoint (moto server) and a local folder."""

from __future__ import annotations

import hashlib
import os
import threading

import boto3
import httpx
import pytest

from llmgenie.core.settings import Settings
from llmgenie.core.storage import S3ArtifactBackend, Store, close_stores, open_store
from llmgenie.core.storage.artifacts import ArtifactFile
from llmgenie.core.storage.backends import (
    ArtifactUnavailableError,
    LocalArtifactBackend,
    artifact_key,
    make_backend,
    task_key,
)
from tests.support.cli import run_cli
from tests.support.net import closed_port_url
from tests.support.reports import make_report, make_task

_MB = 1024 * 1024


def _client():  # type: ignore[no-untyped-def]
    return boto3.client("s3")  # endpoint and credentials from the environment


def test_artifact_key_layout_and_confinement() -> None:
    assert artifact_key("t1", None, "report.md") == "tasks/t1/_task/report.md"
    assert artifact_key("t1", "sec", "patches/a.diff") == "tasks/t1/sec/patches/a.diff"
    assert task_key("t1") == "tasks/t1"
    for bad_id in ("..", "a\\b", ""):
        with pytest.raises(ValueError):
            task_key(bad_id)
    for bad in ("../x", "a/../../x", "/abs", "a\\b", ""):
        with pytest.raises(ValueError):
            artifact_key("t1", "sec", bad)


def test_make_backend_by_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(make_backend(str(tmp_path)), LocalArtifactBackend)
    assert isinstance(make_backend(tmp_path.as_uri()), LocalArtifactBackend)
    s3 = make_backend("s3://bucket/some/prefix")
    assert isinstance(s3, S3ArtifactBackend)
    assert s3.url_for("tasks/t/_task/r.md") == "s3://bucket/some/prefix/tasks/t/_task/r.md"
    with pytest.raises(ValueError, match="unsupported artifacts URL"):
        make_backend("ftp://host/x")


def test_s3_upload_checksum_content_type_and_sse(s3_bucket: str) -> None:
    backend = S3ArtifactBackend(f"s3://{s3_bucket}/llmgenie", sse="AES256")
    data = b'{"ok": true}'
    digest = hashlib.sha256(data).hexdigest()
    url = backend.put("tasks/t1/_task/report.json", data, "application/json", digest)
    assert url == f"s3://{s3_bucket}/llmgenie/tasks/t1/_task/report.json"
    head = _client().head_object(Bucket=s3_bucket, Key="llmgenie/tasks/t1/_task/report.json")
    assert head["ContentType"] == "application/json"
    assert head["Metadata"]["sha256"] == digest
    assert head["ServerSideEncryption"] == "AES256"
    assert backend.get("tasks/t1/_task/report.json") == data


def test_s3_multipart_upload_for_large_objects(s3_bucket: str) -> None:
    backend = S3ArtifactBackend(
        f"s3://{s3_bucket}", multipart_threshold=5 * _MB, multipart_chunksize=5 * _MB
    )
    data = os.urandom(11 * _MB)
    digest = hashlib.sha256(data).hexdigest()
    backend.put("tasks/t1/sec/output.json", data, "application/json", digest)
    head = _client().head_object(Bucket=s3_bucket, Key="tasks/t1/sec/output.json")
    assert head["ETag"].strip('"').endswith("-3")  # three parts: 5 + 5 + 1 MB
    assert head["ContentLength"] == len(data)
    assert hashlib.sha256(backend.get("tasks/t1/sec/output.json")).hexdigest() == digest


def test_presigned_link_is_fetchable_over_http(s3_bucket: str) -> None:
    backend = S3ArtifactBackend(f"s3://{s3_bucket}/p")
    backend.put("tasks/t/_task/report.md", b"# report\n", "text/markdown", "x")
    link = backend.presign("tasks/t/_task/report.md", expires_seconds=300)
    assert link.startswith("http://127.0.0.1:") and "Signature" in link
    response = httpx.get(link)
    assert response.status_code == 200 and response.content == b"# report\n"
    assert httpx.get(link.split("?")[0]).status_code == 403  # unsigned is refused


def _settings_for(s3_bucket: str, tmp_path, db_url: str) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(
        home=tmp_path / "home", database_url=db_url, artifacts_url=f"s3://{s3_bucket}/lg"
    )


def test_task_report_objects_land_in_the_bucket(s3_bucket: str, tmp_path, db_url: str) -> None:  # type: ignore[no-untyped-def]
    store = open_store(_settings_for(s3_bucket, tmp_path, db_url))
    try:
        task = make_task()
        store.task_started(task)
        stored = store.task_finished(make_report(task))
        keys = {
            o["Key"]: o["Size"] for o in _client().list_objects_v2(Bucket=s3_bucket)["Contents"]
        }
        for ref in stored.artifacts:
            assert not ref.pending_upload
            assert ref.url.startswith(f"s3://{s3_bucket}/lg/tasks/{task.id}/")
            key = ref.url.split(f"s3://{s3_bucket}/", 1)[1]
            assert keys[key] == ref.size
            body = _client().get_object(Bucket=s3_bucket, Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == ref.sha256
        presigned = store.presign(stored.artifacts[0], task.id)
        assert httpx.get(presigned).status_code == 200
    finally:
        close_stores()


def test_a_tasks_files_upload_at_once_and_one_failure_spools_only_that_file(
    s3_bucket: str,
    tmp_path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    clients = []
    real_client = boto3.session.Session.client

    def client(session: boto3.session.Session, *args, **kwargs):  # type: ignore[no-untyped-def]
        clients.append(args[0] if args else kwargs.get("service_name"))
        return real_client(session, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", client)
    store = open_store(_settings_for(s3_bucket, tmp_path, db_url))
    real_put = store.backend.put
    two_at_once = threading.Barrier(2, timeout=10)  # broken (an error) if uploads run one by one

    def put(key: str, data: bytes, content_type: str, sha256: str) -> str:
        if key.endswith(("/a.md", "/b.md")):
            two_at_once.wait()
        if key.endswith("/broken.md"):
            raise ArtifactUnavailableError("the bucket refused this one")
        return real_put(key, data, content_type, sha256)

    store.backend.put = put  # type: ignore[method-assign]
    try:
        files = [ArtifactFile("sec", n, f"# {n}".encode(), "text/markdown") for n in NAMES]
        refs = store.put_artifacts("t-batch", files)
        assert [r.name for r in refs] == list(NAMES)
        assert [r.pending_upload for r in refs] == [n == "broken.md" for n in NAMES]
        assert store.read_artifact("t-batch", "sec", "b.md") == b"# b.md"
        assert store.pending_count() == 1
        written = [e for e in store.audit_events() if e.kind == "artifact.written"]
        assert len(written) == len(NAMES)
        assert clients == ["s3"]  # the uploading threads shared one client
    finally:
        close_stores()


NAMES = ("a.md", "b.md", "broken.md", "c.md")


def test_s3_down_spools_then_sync_uploads(
    s3_bucket: str,
    s3_endpoint: str,
    tmp_path,  # type: ignore[no-untyped-def]
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = _settings_for(s3_bucket, tmp_path, db_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())
    store = open_store(settings)
    assert isinstance(store.backend, S3ArtifactBackend)
    store.backend.max_attempts = 2
    task = make_task()
    store.task_started(task)
    with caplog.at_level("WARNING", logger="llmgenie.storage"):
        stored = store.task_finished(make_report(task))  # the run does not fail

    assert stored.artifacts and all(a.pending_upload for a in stored.artifacts)
    [row] = store.list_tasks()
    assert row.pending_uploads == len(stored.artifacts)
    folder = store.spool_folder(task.id)
    spooled = [p for p in folder.rglob("*") if p.is_file()]
    assert len(spooled) == len(stored.artifacts) > 1
    assert any(p.name == "report.json" for p in spooled)
    # one line for the task, not one per file, saying where its files wait
    [said] = [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    assert f"task {task.id}'s files wait in {folder} until `llmgenie artifacts sync`" in said
    assert "Contents" not in _client_at(s3_endpoint).list_objects_v2(Bucket=s3_bucket)

    # Still down: sync uploads nothing and says so.
    assert store.sync_pending() == 0
    assert store.pending_count() == len(stored.artifacts)

    # Back up: `llmgenie artifacts sync` uploads everything and records the final state.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    monkeypatch.setenv("LLMGENIE_HOME", str(settings.home))
    monkeypatch.setenv("LLMGENIE_DATABASE_URL", db_url)
    monkeypatch.setenv("LLMGENIE_ARTIFACTS_URL", settings.artifacts_url or "")
    from llmgenie.core.settings import get_settings

    get_settings.cache_clear()
    try:
        code, out, _ = run_cli(capsys, "artifacts", "sync")
    finally:
        get_settings.cache_clear()
    assert code == 0, out
    assert f"uploaded {len(stored.artifacts)} of {len(stored.artifacts)}" in out
    assert store.pending_count() == 0
    assert store.list_tasks()[0].pending_uploads == 0
    report = store.get_report(task.id)
    for ref in report.artifacts:
        assert not ref.pending_upload
        key = ref.url.split(f"s3://{s3_bucket}/", 1)[1]
        body = _client().get_object(Bucket=s3_bucket, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == ref.sha256
    assert not [p for p in (settings.home / "spool").rglob("*") if p.is_file()]
    close_stores()


def test_next_task_start_syncs_spooled_artifacts(
    s3_bucket: str,
    s3_endpoint: str,
    tmp_path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    settings = _settings_for(s3_bucket, tmp_path, db_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", closed_port_url())
    store = open_store(settings)
    store.backend.max_attempts = 1  # type: ignore[attr-defined]
    ref = store.put_artifact("t-spool", None, "report.md", b"# hi\n", "text/markdown")
    assert ref.pending_upload
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    store.task_started(make_task())
    assert store.pending_count() == 0
    assert store.read_artifact("t-spool", None, "report.md") == b"# hi\n"
    close_stores()


def test_local_folder_store(store: Store) -> None:
    ref = store.put_artifact("t1", "sec", "output.json", b"{}", "application/json")
    assert ref.url.startswith("file://") and ref.url.endswith("/tasks/t1/sec/output.json")
    assert not ref.pending_upload and ref.size == 2
    assert store.read_artifact("t1", "sec", "output.json") == b"{}"
    with pytest.raises(ArtifactUnavailableError):
        LocalArtifactBackend("/proc/llmgenie-no-such-place").put("tasks/x", b"", "x", "x")


def _client_at(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=endpoint)
