"""A run's log lines reach its Prefect flow run's logs (the UI's Logs tab), redacted first."""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
import warnings
from pathlib import Path

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogWorker
from prefect.runtime import flow_run as current_flow_run

from llmgenie.core.logging import get_logger
from llmgenie.core.models import TaskReport
from llmgenie.flows.boss import boss_flow
from tests.flows.conftest import EXAMPLE, use_settings
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("llmgenie_home", "prefect_api")

log = get_logger("tests.ui_logs")


def logs_of(flow_run_id: str | None, until: str) -> list[str]:
    """The run's log messages in Prefect, once one of them contains `until`.

    Log lines leave the process in batches; a flush sends what is queued, and the API may
    take a moment more to make them readable."""
    APILogWorker.drain_all(timeout=10)

    async def read() -> list[str]:
        async with get_client() as client:
            found = await client.read_logs(
                log_filter=LogFilter(
                    flow_run_id=LogFilterFlowRunId(any_=[uuid.UUID(str(flow_run_id))])
                )
            )
            return [entry.message for entry in found]

    return wait_until(
        lambda: asyncio.run(read()),
        f"{until!r} to reach the run's logs",
        until=lambda messages: any(until in m for m in messages),
        every=0.1,
    )


def run_boss(target: Path = EXAMPLE, **kwargs: object) -> TaskReport:
    return asyncio.run(boss_flow(task="review the shop", target=str(target), **kwargs))


def test_the_logs_tab_tells_what_was_analysed_tried_and_skipped(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    scripted_models: dict[str, list[str | None]],
) -> None:
    target = tmp_path / "shop"
    shutil.copytree(EXAMPLE, target)
    (target / "deploy" / "logo.png").write_bytes(b"\x89PNG\x00\x00binary")
    scripted_models["down"] = ["server_error"]
    scripted_models["auth"] = ["auth"]
    use_settings(monkeypatch, llm="scripted/down,scripted/auth", step_retries="1")

    report = run_boss(target, agents=["security"])

    boss = logs_of(report.flow_run_id, until="task finished")
    assert any(m.startswith("target analysed: ") and "files=" in m for m in boss), boss
    assert "file skipped: path=deploy/logo.png reason='binary file'" in boss
    assert any(m.startswith("plan decided: planner=rules steps=security(security)") for m in boss)
    [security] = report.steps
    lines = logs_of(security.flow_run_id, until="step completed")
    story = [m.split(":")[0] for m in lines]
    assert story[:4] == [
        "context sliced",
        "permissions granted",
        "executors in order",
        "toolset started",
    ], lines
    assert "executors in order: chain=scripted/down,scripted/auth,tool-only" in lines
    assert any(m.startswith("toolset finished: tool=security-toolset files=") for m in lines)
    tries = [m for m in lines if m.startswith(("attempt", "executor failed"))]
    assert tries == [
        "attempt started: executor=scripted/down number=1",
        "attempt failed: executor=scripted/down number=1 error_class=server_error "
        "error='scripted server_error'",
        "attempt started: executor=scripted/down number=2",
        "executor failed, falling back: executor=scripted/down number=2 "
        "error_class=server_error error='scripted server_error'",
        "attempt started: executor=scripted/auth number=1",
        "executor failed, falling back: executor=scripted/auth number=1 error_class=auth "
        "error='scripted auth'",
        "attempt started: executor=tool-only number=1",
        "attempt succeeded: executor=tool-only number=1 mode=tool-only tokens=0",
    ]
    assert lines[-1].startswith("step completed: mode=tool-only findings=")
    # the console keeps LLMGENIE_LOG_LEVEL (WARNING): the run's INFO lines are the UI's
    err = capsys.readouterr().err
    assert "toolset finished" not in err and "executor failed, falling back" in err


def test_each_line_is_redacted_before_it_reaches_prefect(monkeypatch: pytest.MonkeyPatch) -> None:
    from llmgenie.core import logging as log_setup

    monkeypatch.setattr(log_setup, "redact", lambda text: text.replace("hunter2", "[redacted]"))

    @flow(name="ui-logs-redaction")
    def leaky() -> str:
        log.info("connecting", password="hunter2")
        logging.getLogger("llmgenie.tests").warning("dsn postgres://u:hunter2@db/x refused")
        return str(current_flow_run.id)

    lines = logs_of(leaky(), until="refused")
    assert "connecting: password=[redacted]" in lines
    assert "dsn postgres://u:[redacted]@db/x refused" in lines
    assert not [m for m in lines if "hunter2" in m]


def test_a_line_outside_any_run_stays_on_the_console(capsys: pytest.CaptureFixture[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Prefect's own handler warns: no flow run
        log.warning("outside any run")
        logging.getLogger("llmgenie.tests").warning("stdlib, outside any run")
    assert "outside any run" in capsys.readouterr().err
