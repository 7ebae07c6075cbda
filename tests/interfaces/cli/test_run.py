"""`llmgenie run`: exit codes, one-line user errors, text and JSON output."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmgenie.core.models import TaskReport
from tests.support.cli import run_cli
from tests.support.waiting import wait_until

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "shop"


@pytest.mark.slow
def test_missing_target_is_exit_2_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llmgenie", "run", "x", "--target", "/nonexistent"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "llmgenie: error: target '/nonexistent' does not exist"
    ]
    assert proc.stdout == ""


@pytest.mark.slow
def test_an_archive_that_does_not_open_is_exit_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "service.tar.gz"
    bad.write_bytes(b"not an archive")
    proc = subprocess.run(
        [sys.executable, "-m", "llmgenie", "run", "x", "--target", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(f"llmgenie: error: target {str(bad)!r} cannot be read: "), line
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agents", "security,wizard"], "agents: unknown agent 'wizard'; expected"),
        (["--format", "yaml"], "--format: 'yaml' is not one of text, json"),
        (["--fail-on", "severe"], "--fail-on: unknown severity 'severe'; expected one of"),
        (["--role", "king"], "role: 'king' is not one of viewer"),
    ],
)
def test_bad_flags_are_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _out, err = run_cli(capsys, "run", "x", "--target", str(EXAMPLE), *args)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.usefixtures("llmgenie_home")
def test_json_report_and_fail_on(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _err = run_cli(
        capsys,
        "run",
        "audit the shop",
        "--target",
        str(EXAMPLE),
        "--format",
        "json",
        "--fail-on",
        "critical",
    )
    report = TaskReport.model_validate(json.loads(out))
    assert code == 1, "the example has a privileged container (critical)"
    assert report.status.value == "completed"
    assert {s.id: s.status.value for s in report.steps} == {
        "devops": "completed",
        "security": "completed",
        "performance": "completed",
        "documentation": "completed",
    }
    assert all(s.mode.value == "tool-only" and s.flow_run_id for s in report.steps)
    names = {a.name for a in report.artifacts}
    assert {"report.json", "report.md", "report.sarif", "catalogue.md", "output.json"} <= names
    assert any(n.startswith("runbooks/") for n in names), names
    assert any(n.startswith("patches/") for n in names), names

    async def boss_result() -> object:
        from uuid import UUID

        from prefect.client.orchestration import get_client

        async with get_client() as client:
            state = (await client.read_flow_run(UUID(report.flow_run_id or ""))).state
            assert state is not None and state.is_completed()
            return state.data

    # the store keeps the report: BOSS does not write a second copy to Prefect's result storage
    assert asyncio.run(boss_result()) is None


@pytest.mark.usefixtures("prefect_api")
@pytest.mark.usefixtures("llmgenie_home")
def test_text_summary(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "run", "find secrets", "--target", str(EXAMPLE))
    assert code == 0
    assert "plan (rules): security" in out
    assert "security       completed  tool-only" in out
    assert "no model ran: every step used its tools only" in out
    assert "report: file://" in out


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_json_logs_carry_the_run_fields(llmgenie_home: Path) -> None:
    import os

    env = {
        **os.environ,
        "LLMGENIE_HOME": str(llmgenie_home),
        "LLMGENIE_LOG_FORMAT": "json",
        "LLMGENIE_LOG_LEVEL": "INFO",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "llmgenie",
            "run",
            "find secrets",
            "--target",
            str(EXAMPLE),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = TaskReport.model_validate_json(proc.stdout)
    lines = [json.loads(line) for line in proc.stderr.splitlines() if line.startswith("{")]
    step_lines = [line for line in lines if line.get("event") == "step completed"]
    assert step_lines, proc.stderr[-2000:]
    for line in step_lines:
        assert line["task_id"] == report.task_id
        assert line["step"] == line["agent"] == "security"
        assert line["flow_run_id"] == report.steps[0].flow_run_id
        assert line["level"] == "info" and "timestamp" in line


def _run_in_a_process(home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`llmgenie run audit --target EXAMPLE` in a process of its own, with `env` added."""
    import os

    return subprocess.run(
        [sys.executable, "-m", "llmgenie", "run", "audit", "--target", str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LLMGENIE_HOME": str(home), **env},
    )


@pytest.mark.slow
def test_a_dead_prefect_api_is_one_line_not_a_traceback(llmgenie_home: Path) -> None:
    proc = _run_in_a_process(llmgenie_home, PREFECT_API_URL="http://127.0.0.1:9/api")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "llmgenie: error: the Prefect API at http://127.0.0.1:9/api (PREFECT_API_URL) does not "
        "answer; start it, or unset PREFECT_API_URL to use the embedded one"
    ]


@pytest.mark.slow
def test_an_unreachable_metadata_database_is_one_line_before_any_step(
    llmgenie_home: Path,
) -> None:
    from tests.support.net import free_port

    url = f"postgresql+psycopg://postgres:secret@127.0.0.1:{free_port()}/llmgenie"
    proc = _run_in_a_process(llmgenie_home, LLMGENIE_DATABASE_URL=url)
    assert proc.returncode == 2, proc.stderr[-2000:]
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith(
        f"llmgenie: error: cannot open database {url.replace(':secret', ':***')}: "
    ), line
    assert "secret" not in line and proc.stdout == ""
    assert not (llmgenie_home / "artifacts").exists(), "no step ran"


def test_a_home_that_cannot_be_created_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from llmgenie.core.settings import get_settings

    home = tmp_path / "a-file"
    home.write_text("")
    monkeypatch.setenv("LLMGENIE_HOME", str(home))
    get_settings.cache_clear()
    said = f"llmgenie: error: LLMGENIE_HOME {home} cannot be created: File exists"
    for argv in (("run", "audit", "--target", str(EXAMPLE)), ("runs", "list"), ("api",)):
        code, out, err = run_cli(capsys, *argv)
        assert code == 2 and out == "", (argv, err)
        assert err.splitlines() == [f"{said} (set it to a writable folder)"], argv
    get_settings.cache_clear()


def test_the_summary_says_where_files_wait_when_the_artifact_store_did_not_take_them() -> None:
    from llmgenie.core.models import ArtifactRef
    from llmgenie.interfaces.cli.run import render_text
    from tests.support.reports import make_report

    report = make_report()
    refs = [
        ArtifactRef(name=name, url=f"s3://b/tasks/t/_task/{name}", sha256="0" * 64, size=1)
        for name in ("report.md", "report.json")
    ]
    uploaded = render_text(report.model_copy(update={"artifacts": refs}), 1.0, "http://x/api", None)
    assert "report: s3://b/tasks/t/_task/report.md\n" in uploaded + "\n"
    assert "did not answer" not in uploaded

    pending = [r.model_copy(update={"pending_upload": True}) for r in refs]
    text = render_text(
        report.model_copy(update={"artifacts": pending}), 1.0, "http://x/api", None, "/h/spool/t"
    )
    assert "report: s3://b/tasks/t/_task/report.md (not uploaded yet)" in text
    assert (
        "the artifact store did not answer: 2 files wait in /h/spool/t until "
        "`llmgenie artifacts sync` uploads them" in text
    )


def test_the_summary_tells_a_failed_model_from_no_model() -> None:
    from datetime import UTC, datetime

    from llmgenie.core.models import Attempt, AttemptOutcome, Mode, StepStatus
    from llmgenie.interfaces.cli.run import render_text
    from tests.support.reports import make_report

    now = datetime.now(UTC)
    report = make_report()
    tool_only = Attempt(
        executor="tool-only", outcome=AttemptOutcome.succeeded, started_at=now, finished_at=now
    )
    steps = [
        s.model_copy(
            update={"status": StepStatus.completed, "mode": Mode.tool_only, "attempts": [tool_only]}
        )
        for s in report.steps
    ]
    no_model = render_text(report.model_copy(update={"steps": steps}), 1.0, "http://x/api", None)
    assert "no model ran: every step used its tools only (set LLMGENIE_LLM" in no_model

    dead = Attempt(
        executor="openai/gpt-x",
        outcome=AttemptOutcome.failed,
        error="openai/gpt-x: could not reach the model endpoint",
        error_class="connection",
        started_at=now,
        finished_at=now,
    )
    failed = [s.model_copy(update={"attempts": [dead, dead, tool_only]}) for s in steps]
    text = render_text(report.model_copy(update={"steps": failed}), 1.0, "http://x/api", None)
    assert "set LLMGENIE_LLM" not in text
    assert (
        f"no model answered: every step fell back to its tools after {2 * len(steps)} failed "
        "model attempts (last: openai/gpt-x: could not reach the model endpoint)" in text
    )


@pytest.mark.slow
def test_an_unusable_setting_is_exit_2_with_one_line(llmgenie_home: Path) -> None:
    proc = _run_in_a_process(llmgenie_home, LLMGENIE_LLM="opnai/gpt-4o")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "llmgenie: error: LLMGENIE_LLM='opnai/gpt-4o': 'opnai/gpt-4o' names no provider "
        "llmgenie has (anthropic, ollama, openai)"
    ]
    proc = _run_in_a_process(llmgenie_home, LLMGENIE_STEP_TIMEOUT_SECONDS="soon")
    assert proc.returncode == 2
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("llmgenie: error: LLMGENIE_STEP_TIMEOUT_SECONDS='soon': "), line


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_ctrl_c_stops_a_run_whose_model_hangs_in_one_line_and_exit_130(
    llmgenie_home: Path,
) -> None:
    import os
    import signal
    import socket
    import threading
    import time

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    asked = threading.Event()  # a model request has arrived, and will never be answered

    def accept_and_never_answer() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)
            try:
                request = b""
                while b"\r\n\r\n" not in request:  # the request's headers, all of them
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    request += chunk
            except OSError:
                return
            if b"\r\n\r\n" in request:
                asked.set()

    threading.Thread(target=accept_and_never_answer, daemon=True).start()
    port = listener.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmgenie", "run", "audit", "--target", str(EXAMPLE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **os.environ,
            "LLMGENIE_HOME": str(llmgenie_home),
            "LLMGENIE_LLM": "openai/hangs",
            "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "OPENAI_API_KEY": "sk-test-0123456789",
        },
    )
    try:
        wait_until(
            lambda: asked.is_set() or proc.poll() is not None, "a model call to be in flight"
        )
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        proc.kill()
        listener.close()
        for conn in held:
            conn.close()
    assert proc.returncode == 130, err[-2000:]
    assert took < 15, took
    lines = [line for line in err.splitlines() if line.startswith("llmgenie:")]
    assert lines[0] == "llmgenie: interrupted: stopping the steps (Ctrl-C again to quit at once)"
    assert lines[-1].startswith("llmgenie: interrupted: task ")
    assert "Traceback" not in err and "Crash detected" not in err
    assert out == ""
    # it was stopped while the model planned: the task is on record all the same
    from llmgenie.core.models import TaskStatus
    from llmgenie.core.settings import Settings
    from llmgenie.core.storage import open_store

    task_prefix = lines[-1].split()[3]
    tasks = open_store(Settings(home=llmgenie_home)).list_tasks()
    assert [t.status for t in tasks if t.id.startswith(task_prefix)] == [TaskStatus.interrupted]
