"""What cannot be analysed is not silently clean (issue 19 point 7, issue 20 point 7): a file
llmgenie recognises but skips for size, encoding or a parse error is an `ops.not-analysed`
finding that fails `--fail-on high`; `--allow-unanalysed` opts out; a target with nothing to
analyse says so in one line, in `scan` and in `run`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmgenie.agents.tools.scanning import clear_scan_cache
from llmgenie.core.models import TaskReport
from llmgenie.core.settings import get_settings
from tests.support.cli import run_cli

POD = (
    "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec:\n  containers:\n"
    "    - name: a\n      image: nginx:1.25\n      securityContext: {privileged: true}\n"
)


@pytest.fixture(autouse=True)
def _small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A per-file limit of 64 KiB, so padding past it is quick to write."""
    monkeypatch.setenv("LLMGENIE_MAX_FILE_BYTES", str(64 * 1024))
    get_settings.cache_clear()
    clear_scan_cache()


def _padded_dockerfile(folder: Path) -> None:
    """`USER root` and a secret in ENV, padded with comments past the Dockerfile limit (1 MiB)
    but under the walker's per-file limit (raised for this file by the test)."""
    pad = "# padding\n" * 110_000
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Dockerfile").write_text(
        f"FROM debian:12\n{pad}ENV DB_PASSWORD=Zq8xV2mK9pL4wR7t\nUSER root\n"
    )


def _scan(capsys: pytest.CaptureFixture[str], target: Path, *extra: str) -> tuple[int, dict]:
    code, out, _err = run_cli(capsys, "scan", str(target), "-f", "json", *extra)
    return code, json.loads(out)


def _unanalysed(report: dict) -> dict[str, str]:
    return {
        f["file"]: f["evidence"]
        for f in report["findings"]
        if f["category"] == "ops.not-analysed" and f["severity"] == "high"
    }


def test_a_pod_padded_past_the_file_limit_fails_the_gate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pod.yaml").write_text(POD + "# padding\n" * 8000)
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00" + b"\x00" * 100_000)

    code, report = _scan(capsys, tmp_path, "--fail-on", "high")

    assert code == 1
    assert _unanalysed(report) == {
        "pod.yaml": "kubernetes file: 0.1 MB, over the 0.1 MB per-file limit"
    }
    assert "logo.png" in {s["path"] for s in report["summary"]["skipped"]}  # not a finding

    code, report = _scan(capsys, tmp_path, "--fail-on", "high", "--allow-unanalysed")
    assert code == 0 and set(_unanalysed(report)) == {"pod.yaml"}  # still reported


def test_a_dockerfile_padded_past_its_limit_fails_the_gate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMGENIE_MAX_FILE_BYTES", str(4 * 1024 * 1024))
    get_settings.cache_clear()
    _padded_dockerfile(tmp_path)

    code, report = _scan(capsys, tmp_path, "--fail-on", "high")

    assert code == 1
    assert _unanalysed(report)["Dockerfile"].startswith("file too large (")


def test_a_manifest_that_does_not_parse_fails_the_gate_at_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "pod.yaml").write_text(POD + "  volumes: [\n")
    code, report = _scan(capsys, tmp_path, "--fail-on", "high")
    assert code == 1
    (found,) = [f for f in report["findings"] if f["category"] == "ops.not-analysed"]
    assert found["file"] == "pod.yaml" and found["line"] == 10
    assert found["evidence"].startswith("malformed YAML")


def test_a_values_file_and_a_doc_are_not_findings(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The twin: what llmgenie does not analyse anyway, or a document that is simply not an
    object, is not a finding however it reads."""
    (tmp_path / "values.yaml").write_text("replicas: [\n")  # a config file, not a manifest
    (tmp_path / "README.md").write_bytes(b"\xff\xfe not utf-8")
    (tmp_path / "list.yaml").write_text(POD + "---\n- just\n- a list\n")
    code, report = _scan(capsys, tmp_path, "--fail-on", "high")
    assert _unanalysed(report) == {}
    assert code == 1  # the privileged pod still counts


@pytest.mark.parametrize("content", [None, b"\x00\x01\x02 binary"])
def test_scan_of_a_target_with_nothing_to_analyse_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes | None
) -> None:
    if content is not None:
        (tmp_path / "blob.bin").write_bytes(content)
    code, out, _ = run_cli(capsys, "scan", str(tmp_path), "-f", "text")
    assert code == 0
    last = out.strip().splitlines()[-1]
    assert last.startswith("nothing analysed: the target holds no file llmgenie can analyse")
    assert ("blob.bin (binary file)" in last) is (content is not None)

    code, out, err = run_cli(capsys, "scan", str(tmp_path), "-f", "json")
    assert json.loads(out)["findings"] == [] and err.startswith("nothing analysed:")


@pytest.mark.usefixtures("prefect_api", "llmgenie_home")
def test_run_of_a_binary_target_says_nothing_was_analysed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "blob.bin").write_bytes(b"\x00\x01\x02 binary")
    code, out, _ = run_cli(capsys, "run", "audit", "--target", str(target))
    assert code == 0
    assert "findings: none" in out
    assert (
        "nothing analysed: the target holds no file llmgenie can analyse; "
        "1 skipped: blob.bin (binary file)"
    ) in out


@pytest.mark.usefixtures("prefect_api", "llmgenie_home")
@pytest.mark.parametrize(("extra", "expected"), [((), 1), (("--allow-unanalysed",), 0)])
def test_run_gate_fails_on_what_it_could_not_analyse(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: tuple[str, ...], expected: int
) -> None:
    target = tmp_path / "target"
    target.mkdir()
    (target / "pod.yaml").write_text(POD + "# padding\n" * 8000)
    (target / "README.md").write_text("# shop\n")
    code, out, _ = run_cli(
        capsys,
        "run",
        "audit",
        "--target",
        str(target),
        "--agents",
        "security",
        "--format",
        "json",
        "--fail-on",
        "high",
        *extra,
    )
    report = TaskReport.model_validate(json.loads(out))
    assert [(f.category, f.file) for f in report.findings] == [("ops.not-analysed", "pod.yaml")]
    assert code == expected
