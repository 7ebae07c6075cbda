"""Opening a target: a folder, a file, an archive or an S3 prefix, as a confined local folder.

Archives are unpacked member by member: no absolute paths, no `..`, no links, no devices, and
caps on member count and total size against archive bombs. What is refused is recorded, not fatal.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from llmgenie.core.models import SkippedFile, Target, TargetKind
from llmgenie.core.render import human_size
from llmgenie.core.settings import Settings, get_settings

__all__ = ["OpenedTarget", "TargetError", "check_target", "classify_target", "open_target"]

_ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip", ".tar.bz2", ".tar.xz")
_COPY_CHUNK = 1024 * 1024


class TargetError(ValueError):
    """The target cannot be opened at all; the message names it and says why."""


@dataclass
class OpenedTarget:
    target: Target
    root: Path
    single_file: str | None = None
    skipped: list[SkippedFile] = field(default_factory=list)


def classify_target(location: str) -> Target:
    """Say what kind of target a location is, or raise TargetError naming it."""
    if location.startswith("s3://"):
        return Target(location=location, kind=TargetKind.s3)
    path = Path(location).expanduser()
    if not path.exists():
        raise TargetError(f"target {location!r} does not exist")
    if path.is_dir():
        return Target(location=location, kind=TargetKind.folder)
    if not path.is_file():
        raise TargetError(f"target {location!r} is neither a folder nor a regular file")
    if path.name.lower().endswith(_ARCHIVE_SUFFIXES):
        return Target(location=location, kind=TargetKind.archive)
    return Target(location=location, kind=TargetKind.file)


def check_target(location: str) -> Target:
    """`classify_target`, then a cheap look that the target opens at all: the folder lists, the
    file reads, the archive's index or first header parses, the S3 prefix lists (one call).

    For callers that should refuse a broken target before starting a task on it; the task
    still reads the whole target, and what fails deeper in it is the task's to report.
    """
    target = classify_target(location)
    path = Path(location).expanduser()
    try:
        if target.kind is TargetKind.folder:
            next(path.iterdir(), None)
        elif target.kind is TargetKind.file:
            with path.open("rb") as fh:
                fh.read(1)
        elif target.kind is TargetKind.archive:
            if path.name.lower().endswith(".zip"):
                zipfile.ZipFile(path).close()
            else:
                with tarfile.open(path) as tf:
                    tf.next()
        else:
            next(_list_s3(location)[1], None)  # the first page: one listing call
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise TargetError(f"target {location!r} cannot be read: {_reason(exc)}") from exc
    return target


def _reason(exc: BaseException) -> str:
    """An exception's message on one line (tarfile's lists one line per method it tried)."""
    return " ".join(str(getattr(exc, "strerror", None) or exc).split())


@contextmanager
def open_target(location: str, settings: Settings | None = None) -> Iterator[OpenedTarget]:
    """Yield the target as a local folder; temporary copies are removed on exit.

    A folder is used in place; a file, an archive or an S3 prefix is copied (within the size
    caps) into a temporary folder of its own.
    """
    settings = settings or get_settings()
    target = classify_target(location)
    if target.kind is TargetKind.folder:
        yield OpenedTarget(target=target, root=Path(location).expanduser().resolve())
        return
    workdir = Path(tempfile.mkdtemp(prefix="llmgenie-target-"))
    try:
        if target.kind is TargetKind.file:
            # A copy in a folder of its own: the confined view holds that file, nothing beside it.
            path = Path(location).expanduser()
            skipped = _copy_file(path, workdir / path.name, settings)
            yield OpenedTarget(
                target=target, root=workdir.resolve(), single_file=path.name, skipped=skipped
            )
            return
        if target.kind is TargetKind.archive:
            skipped = _unpack(Path(location).expanduser(), workdir, settings)
        else:
            skipped = _download_s3(location, workdir, settings)
        yield OpenedTarget(target=target, root=workdir.resolve(), skipped=skipped)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _copy_file(src: Path, dest: Path, settings: Settings) -> list[SkippedFile]:
    try:
        with src.open("rb") as fh:
            reason = _Budget(settings).copy(fh, dest)
    except OSError as exc:
        raise TargetError(f"target {str(src)!r} cannot be read: {_reason(exc)}") from exc
    return [SkippedFile(path=src.name, reason=reason)] if reason else []


def _safe_member_path(name: str) -> PurePosixPath | None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or not p.parts or ":" in p.parts[0]:
        return None
    return p


class _Budget:
    def __init__(self, settings: Settings) -> None:
        self.bytes_left = settings.max_archive_bytes
        self.members_left = settings.max_archive_members
        self.max_file = settings.max_file_bytes

    def copy(self, src: IO[bytes], dest: Path) -> str | None:
        """Copy at most the per-file and total budget; return a reason when refused."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        written = 0
        with dest.open("wb") as out:
            while chunk := src.read(_COPY_CHUNK):
                written += len(chunk)
                if written > self.max_file:
                    reason = f"larger than the {human_size(self.max_file)} per-file limit"
                    break
                if written > self.bytes_left:
                    reason = "archive exceeds the total unpacked size limit"
                    break
                out.write(chunk)
            else:
                self.bytes_left -= written
                return None
        dest.unlink(missing_ok=True)
        return reason


def _unpack(archive: Path, dest: Path, settings: Settings) -> list[SkippedFile]:
    budget = _Budget(settings)
    skipped: list[SkippedFile] = []
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    if info.is_dir():
                        continue
                    _unpack_member(info.filename, lambda i=info: zf.open(i), dest, budget, skipped)
        else:
            with tarfile.open(archive) as tf:
                for member in tf:
                    if member.isdir():
                        continue
                    if not member.isfile():
                        reason = "links and devices are not unpacked"
                        skipped.append(SkippedFile(path=member.name, reason=reason))
                        continue
                    _unpack_member(
                        member.name, lambda m=member: tf.extractfile(m), dest, budget, skipped
                    )
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise TargetError(f"archive {str(archive)!r} cannot be read: {_reason(exc)}") from exc
    return skipped


@dataclass(frozen=True)
class _SkipWords:
    """How a copy's skip reasons name what it skips: archive members or S3 objects."""

    unsafe: str
    limit: str


_ARCHIVE_WORDS = _SkipWords(
    "unsafe path in archive (absolute or '..')", "archive member limit reached"
)
_S3_WORDS = _SkipWords("unsafe object key", "object limit reached")


def _unpack_member(
    name: str,
    opener: Callable[[], IO[bytes] | None],
    dest: Path,
    budget: _Budget,
    skipped: list[SkippedFile],
    words: _SkipWords = _ARCHIVE_WORDS,
    path: str | None = None,
) -> None:
    """Copy one archive member or S3 object `name` to `dest`/`path` (default: `name`), within
    the budget; what is not copied is recorded in `skipped`, with the reason."""
    rel = _safe_member_path(name if path is None else path)
    if rel is None:
        skipped.append(SkippedFile(path=name, reason=words.unsafe))
        return
    if budget.members_left <= 0:
        skipped.append(SkippedFile(path=name, reason=words.limit))
        return
    budget.members_left -= 1
    src = opener()
    if src is None:
        skipped.append(SkippedFile(path=name, reason="member cannot be read"))
        return
    with src:
        reason = budget.copy(src, dest.joinpath(*rel.parts))
    if reason:
        skipped.append(SkippedFile(path=name, reason=reason))


def _download_s3(location: str, dest: Path, settings: Settings) -> list[SkippedFile]:
    bucket, prefix = _bucket_and_prefix(location)
    skipped: list[SkippedFile] = []
    budget = _Budget(settings)
    s3, keys = _list_s3(location)
    for key in keys:
        with _s3_errors(location):
            _unpack_member(
                key,
                lambda k=key: s3.get_object(Bucket=bucket, Key=k)["Body"],
                dest,
                budget,
                skipped,
                _S3_WORDS,
                path=key[len(prefix) :].lstrip("/"),
            )
    return skipped


def _bucket_and_prefix(location: str) -> tuple[str, str]:
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    return bucket, prefix


def _list_s3(location: str) -> tuple[Any, Iterator[str]]:
    """An S3 client and the keys under the prefix, listed a page at a time as they are read;
    listing errors are TargetErrors."""
    import boto3

    bucket, prefix = _bucket_and_prefix(location)
    with _s3_errors(location):
        s3 = boto3.client("s3")
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)

    def keys() -> Iterator[str]:
        with _s3_errors(location):
            for page in pages:
                for obj in page.get("Contents", []):
                    yield obj["Key"]

    return s3, keys()


@contextmanager
def _s3_errors(location: str) -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise TargetError(f"target {location!r} cannot be read from S3: {_reason(exc)}") from exc
