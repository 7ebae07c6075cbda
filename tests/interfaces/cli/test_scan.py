"""`llmgenie scan` through the real console entry: formats, --fail-on, --agents, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

FIXTURES = Path(__file__).parents[2] / "fixtures" / "k8s"


def _llmgenie(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmgenie", "scan", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_json_to_stdout_and_exit_0_without_fail_on() -> None:
    proc = _llmgenie(str(FIXTURES / "insecure-pod.yaml"), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert "LG-K8S-001" in {f["rule_id"] for f in doc["findings"]}


@pytest.mark.parametrize(("fail_on", "code"), [("critical", 1), ("high", 1), ("info", 1)])
def test_fail_on_gates_on_findings(fail_on: str, code: int) -> None:
    proc = _llmgenie(str(FIXTURES / "insecure-pod.yaml"), "--format", "json", "--fail-on", fail_on)
    assert proc.returncode == code


def test_fail_on_passes_a_clean_target() -> None:
    proc = _llmgenie(
        str(FIXTURES / "hardened.yaml"),
        "--format",
        "json",
        "--fail-on",
        "info",
        "--agents",
        "security",
    )
    assert proc.returncode == 0, proc.stdout
    assert json.loads(proc.stdout)["findings"] == []


def test_sarif_and_markdown_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "report.sarif"
    proc = _llmgenie(str(FIXTURES), "--format", "sarif", "--output", str(out))
    assert proc.returncode == 0
    assert json.loads(out.read_text())["version"] == "2.1.0"
    md = tmp_path / "report.md"
    assert _llmgenie(str(FIXTURES), "--format", "markdown", "-o", str(md)).returncode == 0
    assert md.read_text().startswith("# llmgenie scan")


def test_agents_narrow_the_toolsets() -> None:
    proc = _llmgenie(str(FIXTURES), "--format", "json", "--agents", "documentation")
    assert proc.returncode == 0
    assert not [f for f in json.loads(proc.stdout)["findings"] if f["agent"] == "security"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["/no/such/path"], "does not exist"),
        ([str(FIXTURES), "--agents", "wizard"], "unknown agent 'wizard'"),
        ([str(FIXTURES), "--format", "xml"], "unknown format"),
        ([str(FIXTURES), "--fail-on", "severe"], "unknown severity"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], needle: str) -> None:
    proc = _llmgenie(*args)
    assert proc.returncode == 2
    err = proc.stderr.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_in_process_entry_and_no_prefect_import() -> None:
    target = str(FIXTURES / "insecure-pod.yaml")
    code = (
        "import sys\n"
        "from llmgenie.interfaces.cli.main import main\n"
        "try:\n"
        f"    main(['scan', {target!r}, '-f', 'json', '-o', '/dev/null'])\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
        "print('prefect' in sys.modules, 'crewai' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
