"""Artifact backends, where a task's files go: one interface, a local folder and S3 (boto3).

Keys are `tasks/{task_id}/{step_id}/{name}` under the store's root (`_task` for task-level
files). The metadata store records each object's URL, SHA-256 and size.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

__all__ = [
    "TASK_STEP",
    "ArtifactBackend",
    "ArtifactUnavailableError",
    "LocalArtifactBackend",
    "S3ArtifactBackend",
    "artifact_key",
    "atomic_write",
    "make_backend",
    "remove_empty_folders",
    "sha256_hex",
    "task_key",
]

#: The step id of task-level files (report.json, report.md, report.sarif).
TASK_STEP = "_task"

_MB = 1024 * 1024
#: S3's DeleteObjects takes at most 1,000 keys per request.
_DELETE_BATCH = 1000


class ArtifactUnavailableError(RuntimeError):
    """The artifact store could not take the object (after retries); spool it instead."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def artifact_key(task_id: str, step_id: str | None, name: str) -> str:
    """`tasks/{task_id}/{step_id}/{name}`; refuses names that would escape that folder."""
    parts = [step_id or TASK_STEP, *name.split("/")]
    for part in parts:
        _check_component(part, name)
    return "/".join([task_key(task_id), *parts])


def task_key(task_id: str) -> str:
    """`tasks/{task_id}`: the folder of a task's files, the prefix of its `artifact_key`s."""
    _check_component(task_id, task_id)
    return f"tasks/{task_id}"


def _check_component(part: str, name: str) -> None:
    if part in {"", ".", ".."} or "\\" in part or "\x00" in part:
        raise ValueError(f"invalid artifact path component {part!r} in {name!r}")


class ArtifactBackend(Protocol):
    kind: str

    def url_for(self, key: str) -> str: ...

    def put(self, key: str, data: bytes, content_type: str, sha256: str) -> str:
        """Store the object; returns its URL. Raises ArtifactUnavailableError when it cannot."""
        ...

    def get(self, key: str) -> bytes: ...

    def presign(self, key: str, expires_seconds: int = 3600) -> str: ...

    def delete(self, keys: list[str]) -> None:
        """Remove the objects (gone already is fine). Raises ArtifactUnavailableError when any
        could not be removed."""
        ...


class LocalArtifactBackend:
    """A folder with the same key layout as the bucket (the embedded default)."""

    kind = "local"

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*key.split("/"))

    def url_for(self, key: str) -> str:
        return self._path(key).as_uri()

    def put(self, key: str, data: bytes, content_type: str, sha256: str) -> str:
        path = self._path(key)
        try:
            atomic_write(path, data)
        except OSError as exc:
            raise ArtifactUnavailableError(f"cannot write {path}: {exc}") from exc
        return self.url_for(key)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def presign(self, key: str, expires_seconds: int = 3600) -> str:
        return self.url_for(key)

    def delete(self, keys: list[str]) -> None:
        tasks, folders = self.root / "tasks", set()
        for key in keys:
            path = self._path(key)
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise ArtifactUnavailableError(f"cannot remove {path}: {exc}") from exc
            folders.update(p for p in path.parents if p.is_relative_to(tasks) and p != tasks)
        remove_empty_folders(folders)


class S3ArtifactBackend:
    """An S3-compatible bucket through boto3; the endpoint comes from boto3's own configuration
    (`AWS_ENDPOINT_URL`, profiles), so MinIO, Ceph and AWS all work unchanged."""

    kind = "s3"

    def __init__(
        self,
        url: str,
        *,
        sse: str | None = None,
        max_attempts: int = 4,
        connect_timeout: float = 5.0,
        # per read of the socket, not per transfer: an 8 MB part's answer comes well within it.
        # botocore's 60 s, times the attempts, held a run or a prune minutes on a bucket that
        # accepts connections and never answers.
        read_timeout: float = 15.0,
        multipart_threshold: int = 8 * _MB,
        multipart_chunksize: int = 8 * _MB,
        circuit_seconds: float = 60.0,
    ) -> None:
        parsed = urlparse(url)
        if parsed.scheme != "s3" or not parsed.netloc:
            raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
        self.bucket = parsed.netloc
        self.prefix = parsed.path.strip("/")
        self.sse = sse
        self.max_attempts = max_attempts
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.circuit_seconds = circuit_seconds
        self._client_obj = None
        # one client for the threads a task's uploads run on (`ArtifactFiles.put_many`)
        self._client_lock = threading.Lock()
        self._down_since: float | None = None

    # -- plumbing -------------------------------------------------------------------------
    def _client(self):  # type: ignore[no-untyped-def]
        with self._client_lock:
            if self._client_obj is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"max_attempts": self.max_attempts, "mode": "standard"},
                    connect_timeout=self.connect_timeout,
                    read_timeout=self.read_timeout,
                    # Path-style works with every S3-compatible server; virtual-host style
                    # does not.
                    s3={"addressing_style": "path"} if os.environ.get("AWS_ENDPOINT_URL") else {},
                )
                self._client_obj = boto3.session.Session().client("s3", config=config)
            return self._client_obj

    def reset(self) -> None:
        """Forget a failed endpoint and re-read boto3's configuration (used by sync)."""
        with self._client_lock:
            self._client_obj = None
        self._down_since = None

    def full_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def url_for(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.full_key(key)}"

    @property
    def is_down(self) -> bool:
        return (
            self._down_since is not None
            and time.monotonic() - self._down_since < self.circuit_seconds
        )

    # -- operations -----------------------------------------------------------------------
    def put(self, key: str, data: bytes, content_type: str, sha256: str) -> str:
        if self.is_down:
            raise ArtifactUnavailableError("S3 endpoint failed recently; spooling")
        from boto3.s3.transfer import TransferConfig

        extra: dict[str, object] = {"ContentType": content_type, "Metadata": {"sha256": sha256}}
        if self.sse:
            extra["ServerSideEncryption"] = self.sse
        transfer = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=self.multipart_chunksize,
        )
        try:
            self._client().upload_fileobj(
                io.BytesIO(data), self.bucket, self.full_key(key), ExtraArgs=extra, Config=transfer
            )
        except Exception as exc:  # botocore/s3transfer raise many kinds; all mean "not stored"
            self._down_since = time.monotonic()
            raise ArtifactUnavailableError(
                f"upload of s3://{self.bucket}/{self.full_key(key)} failed: {exc}"
            ) from exc
        self._down_since = None
        return self.url_for(key)

    def get(self, key: str) -> bytes:
        body = self._client().get_object(Bucket=self.bucket, Key=self.full_key(key))["Body"]
        return body.read()

    def head(self, key: str) -> dict[str, object]:
        return self._client().head_object(Bucket=self.bucket, Key=self.full_key(key))

    def delete(self, keys: list[str]) -> None:
        bucket = f"s3://{self.bucket}"
        if self.is_down:  # a prune of many tasks waits for a dead endpoint once, not per task
            raise ArtifactUnavailableError(
                f"delete in {bucket} not tried: the endpoint failed in the last "
                f"{self.circuit_seconds:.0f} s"
            )
        for start in range(0, len(keys), _DELETE_BATCH):
            batch = [{"Key": self.full_key(k)} for k in keys[start : start + _DELETE_BATCH]]
            try:
                answer = self._client().delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            except Exception as exc:  # botocore raises many kinds; all mean "not removed"
                self._down_since = time.monotonic()
                raise ArtifactUnavailableError(f"delete in {bucket} failed: {exc}") from exc
            self._down_since = None
            errors = answer.get("Errors") or []
            if errors:
                first = errors[0]
                raise ArtifactUnavailableError(
                    f"{len(errors)} objects in {bucket} not deleted, e.g. {first.get('Key')}: "
                    f"{first.get('Code')} {first.get('Message', '')}".rstrip()
                )

    def presign(self, key: str, expires_seconds: int = 3600) -> str:
        return self._client().generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self.full_key(key)},
            ExpiresIn=expires_seconds,
        )


def make_backend(url: str, *, sse: str | None = None) -> ArtifactBackend:
    """`s3://bucket/prefix` → S3; `file://…` or a plain path → a local folder."""
    if url.startswith("s3://"):
        return S3ArtifactBackend(url, sse=sse)
    if url.startswith("file://"):
        return LocalArtifactBackend(urlparse(url).path)
    if "://" in url:
        raise ValueError(f"unsupported artifacts URL {url!r}: use s3://bucket/prefix or a folder")
    return LocalArtifactBackend(url)


def remove_empty_folders(folders: set[Path]) -> None:
    """Remove those of `folders` that are empty, deepest first; others (and errors) are left."""
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):  # not empty, gone, or not ours: leave it
            folder.rmdir()


def atomic_write(path: Path, data: bytes) -> None:
    """Write a whole file or nothing: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
