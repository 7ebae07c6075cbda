"""Context analysis and target opening on ordinary and hostile input."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from llmgenie.core.context import analyze, analyze_opened, classify_file
from llmgenie.core.models import FileKind
from llmgenie.core.settings import Settings
from llmgenie.core.targets import TargetError, check_target, open_target

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"


def skipped(ctx) -> dict[str, str]:
    return {s.path: s.reason for s in ctx.skipped}


def test_example_is_classified() -> None:
    ctx = analyze(str(EXAMPLE))
    kinds = {f.path: f.kind for f in ctx.files}
    assert kinds["Dockerfile"] is FileKind.dockerfile
    assert kinds["docker-compose.yaml"] is FileKind.compose
    assert kinds["deploy/api.yaml"] is FileKind.kubernetes
    assert kinds["app/requirements.txt"] is FileKind.dependency_manifest
    assert kinds["README.md"] is FileKind.doc
    assert kinds["app/shop.py"] is FileKind.source
    assert ctx.languages == ["python"]
    assert not ctx.skipped and not ctx.truncated


@pytest.mark.parametrize(
    ("path", "content", "kind"),
    [
        (
            "k/multi.yaml",
            b"---\napiVersion: v1\nkind: Service\n---\nkind: Pod\n",
            FileKind.kubernetes,
        ),
        ("k/list.json", b'{"apiVersion": "v1", "kind": "List", "items": []}', FileKind.kubernetes),
        ("values.yaml", b"replicas: 3\n", FileKind.config),
        ("overlay/kustomization.yaml", b"resources: [a.yaml]\n", FileKind.kustomization),
        ("infra/main.tf", b'resource "aws_s3_bucket" "b" {}\n', FileKind.terraform),
        (".github/workflows/ci.yml", b"on: push\n", FileKind.ci_config),
        ("svc/Dockerfile.prod", b"FROM scratch\n", FileKind.dockerfile),
        ("compose.override.yml", b"services: {}\n", FileKind.compose),
        ("go.mod", b"module x\n", FileKind.dependency_manifest),
        ("requirements-dev.txt", b"pytest\n", FileKind.dependency_manifest),
    ],
)
def test_classify_file(path: str, content: bytes, kind: FileKind) -> None:
    assert classify_file(path, content)[0] is kind


def test_helm_templates_are_not_kubernetes(tmp_path: Path) -> None:
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: x\nversion: 0.1.0\n")
    (chart / "templates" / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    kinds = {f.path: f.kind for f in analyze(str(tmp_path)).files}
    assert kinds["chart/Chart.yaml"] is FileKind.helm_chart
    assert kinds["chart/templates/deploy.yaml"] is FileKind.helm_template


def test_hostile_files_are_skipped_with_reasons(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\n")
    root = tmp_path / "target"
    root.mkdir()
    (root / "ok.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n")
    (root / "escape.yaml").symlink_to(outside / "secret.yaml")
    (root / "escape-dir").symlink_to(outside, target_is_directory=True)
    (root / "inside.yaml").symlink_to(root / "ok.yaml")
    (root / "broken.yaml").symlink_to(root / "nowhere.yaml")
    with (root / "huge.log").open("wb") as fh:  # sparse: 200 MB without using the disk
        fh.truncate(200 * 1024 * 1024)
    (root / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(64))
    (root / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    locked = root / "locked.yaml"
    locked.write_text("apiVersion: v1\nkind: Pod\n")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads a mode-000 file; make its read fail the way it would
        real_open = Path.open

        def deny(self: Path, *args: object, **kwargs: object):
            if self.name == "locked.yaml":
                raise PermissionError(13, "Permission denied")
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", deny)

    ctx = analyze(str(root))

    reasons = skipped(ctx)
    assert reasons["escape.yaml"] == "symlink points outside the target"
    assert reasons["escape-dir"] == "symlinked folder not followed"
    assert reasons["broken.yaml"] == "broken symlink"
    assert reasons["huge.log"] == "209.7 MB, over the 5.2 MB per-file limit"
    assert reasons["image.png"] == "binary file"
    assert reasons["latin1.yaml"].startswith("not UTF-8 text")
    assert reasons["locked.yaml"] == "unreadable: Permission denied"
    assert {f.path for f in ctx.files} >= {"ok.yaml", "inside.yaml"}
    assert "secret.yaml" not in str([f.path for f in ctx.files])


def test_max_files_truncates(tmp_path: Path) -> None:
    for i in range(10):
        (tmp_path / f"f{i}.md").write_text("x")
    ctx = analyze(str(tmp_path), Settings(home=tmp_path / "h", max_files=4))
    assert len(ctx.files) == 4 and ctx.truncated


def test_missing_target_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match=r"missing.*does not exist"):
        analyze(str(tmp_path / "missing"))


def test_single_file_target() -> None:
    with open_target(str(EXAMPLE / "Dockerfile")) as opened:
        ctx = analyze_opened(opened)
    assert [f.path for f in ctx.files] == ["Dockerfile"]


def _tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, to in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = to
            tf.addfile(info)


def test_archive_with_traversal_and_links_is_unpacked_safely(tmp_path: Path) -> None:
    archive = tmp_path / "bundle.tar.gz"
    _tar(
        archive,
        {
            "deploy/api.yaml": b"apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n",
            "../../evil.yaml": b"pwned",
            "/etc/cron.d/evil": b"pwned",
        },
        links={"deploy/passwd": "/etc/passwd"},
    )
    with open_target(str(archive)) as opened:
        root = opened.root
        ctx = analyze_opened(opened)
        assert [f.path for f in ctx.files] == ["deploy/api.yaml"]
    reasons = skipped(ctx)
    assert reasons["../../evil.yaml"] == "unsafe path in archive (absolute or '..')"
    assert reasons["/etc/cron.d/evil"] == "unsafe path in archive (absolute or '..')"
    assert reasons["deploy/passwd"] == "links and devices are not unpacked"
    assert not (tmp_path / "evil.yaml").exists() and not (tmp_path.parent / "evil.yaml").exists()
    assert not root.exists(), "the unpacked copy is removed afterwards"


def test_archive_bomb_is_capped(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(5):
            zf.writestr(f"zeros{i}.txt", bytes(3 * 1024 * 1024))
    settings = Settings(
        home=tmp_path / "h",
        max_archive_bytes=8 * 1024 * 1024,
        max_file_bytes=4 * 1024 * 1024,
        max_archive_members=4,
    )
    with open_target(str(archive), settings) as opened:
        reasons = skipped(analyze_opened(opened, settings))
    assert "exceeds the total unpacked size limit" in reasons["zeros2.txt"]
    assert reasons["zeros4.txt"] == "archive member limit reached"


def test_corrupt_archive_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(TargetError, match=r"bad\.tar\.gz.*cannot be read"), open_target(str(bad)):
        pass


def test_a_single_file_target_sees_nothing_beside_it() -> None:
    with open_target(str(EXAMPLE / "deploy" / "api.yaml")) as opened:
        ctx = analyze_opened(opened)
        assert sorted(p.name for p in opened.root.iterdir()) == ["api.yaml"]
    assert [f.path for f in ctx.files] == ["api.yaml"]


def test_a_single_file_over_the_cap_is_skipped_with_its_reason(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("kind: Pod\n" + "#" * 5000)
    settings = Settings(home=tmp_path / "h", max_file_bytes=1000)
    with open_target(str(big), settings) as opened:
        ctx = analyze_opened(opened, settings)
    assert ctx.files == []
    assert [(s.path, s.reason) for s in ctx.skipped] == [
        ("big.yaml", "larger than the 1000 bytes per-file limit")
    ]


def test_check_target_refuses_what_cannot_open_in_one_line(tmp_path: Path) -> None:
    bad_tar = tmp_path / "bad.tar.gz"
    bad_tar.write_bytes(b"not an archive")
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not a zip")
    for bad in (bad_tar, bad_zip):
        with pytest.raises(TargetError) as caught:
            check_target(str(bad))
        message = str(caught.value)
        assert message.startswith(f"target {str(bad)!r} cannot be read: ")
        assert "\n" not in message
    good = tmp_path / "good.tar.gz"
    with tarfile.open(good, "w:gz") as tf:
        tf.add(EXAMPLE / "Dockerfile", arcname="Dockerfile")
    for fine in (good, EXAMPLE, EXAMPLE / "Dockerfile", tmp_path):
        assert check_target(str(fine)).location == str(fine)
