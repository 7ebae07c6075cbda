"""S3 prefixes as targets, against a real S3 endpoint (moto's server on loopback) via boto3."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from llmgenie.core.context import analyze_opened
from llmgenie.core.models import FileKind, TargetKind
from llmgenie.core.settings import Settings
from llmgenie.core.targets import TargetError, check_target, open_target

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"


def test_an_s3_prefix_is_analysed_like_a_folder(s3_bucket: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    for path in EXAMPLE.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), s3_bucket, f"teams/shop/{path.relative_to(EXAMPLE)}")
    s3.put_object(Bucket=s3_bucket, Key="teams/other/secret.yaml", Body=b"not ours")
    s3.put_object(Bucket=s3_bucket, Key="teams/shop/../../escape.yaml", Body=b"x")

    with open_target(f"s3://{s3_bucket}/teams/shop/") as opened:
        context = analyze_opened(opened)
        root = opened.root
        assert opened.target.kind is TargetKind.s3

    kinds = {f.path: f.kind for f in context.files}
    assert kinds["deploy/api.yaml"] is FileKind.kubernetes
    assert kinds["Dockerfile"] is FileKind.dockerfile
    assert not any("secret.yaml" in p or "escape" in p for p in kinds)
    assert {s.path: s.reason for s in context.skipped} == {
        "teams/shop/../../escape.yaml": "unsafe object key"
    }
    assert not root.exists(), "the downloaded copy is removed afterwards"


def test_object_caps_apply(s3_bucket: str, tmp_path: Path) -> None:
    s3 = boto3.client("s3")
    for i in range(5):
        s3.put_object(Bucket=s3_bucket, Key=f"p/f{i}.md", Body=b"x" * 100)
    settings = Settings(home=tmp_path, max_archive_members=3, max_file_bytes=1000)
    with open_target(f"s3://{s3_bucket}/p/", settings) as opened:
        context = analyze_opened(opened, settings)
    assert len(context.files) == 3
    assert [s.reason for s in context.skipped] == ["object limit reached"] * 2


def test_a_dead_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    with (
        pytest.raises(TargetError, match=r"s3://b/p/.*cannot be read from S3"),
        open_target("s3://b/p/"),
    ):
        pass


def test_check_target_lists_the_prefix_once(s3_bucket: str) -> None:
    boto3.client("s3").put_object(Bucket=s3_bucket, Key="p/a.md", Body=b"x")
    assert check_target(f"s3://{s3_bucket}/p/").kind is TargetKind.s3
    assert check_target(f"s3://{s3_bucket}/empty/").kind is TargetKind.s3  # empty is readable
    with pytest.raises(TargetError, match=r"s3://no-such-bucket-0/p/.*cannot be read from S3"):
        check_target("s3://no-such-bucket-0/p/")
