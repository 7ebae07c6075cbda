"""What the Prefect UI shows reads well: run names without a repeated agent, notes said once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prefect.client.orchestration import get_client

from llmgenie.core.models import Step, TaskReport
from llmgenie.core.render import render_report_markdown, render_step_markdown
from llmgenie.flows.boss import boss_flow
from llmgenie.flows.specialist import SpecialistRequest, specialist_flow
from tests.flows.conftest import EXAMPLE

pytestmark = pytest.mark.usefixtures("llmgenie_home", "prefect_api")


def run_name(flow_run_id: str | None) -> str:
    async def read() -> str:
        async with get_client() as client:
            return (await client.read_flow_run(uuid.UUID(str(flow_run_id)))).name

    return asyncio.run(read())


def test_runs_are_named_by_agent_and_task_and_notes_are_printed_once() -> None:
    report: TaskReport = asyncio.run(
        boss_flow(task="audit the shop", target=str(EXAMPLE), agents=["devops", "documentation"])
    )

    short = report.task_id[:8]
    assert [run_name(s.flow_run_id) for s in report.steps] == [
        f"devops · task {short}",
        f"documentation · task {short}",
    ]
    devops = report.steps[0]
    assert devops.notes, "the devops toolset notes what its patches do and leave out"
    task_md, step_md = render_report_markdown(report), render_step_markdown(devops)
    for note in devops.notes:
        assert task_md.count(note) == 1, note
        assert step_md.count(note) == 1, note


def test_a_step_named_apart_from_its_agent_keeps_both() -> None:
    request = SpecialistRequest(
        task_id="0123456789abcdef" * 2,
        task="audit the manifests",
        target=str(EXAMPLE),
        step=Step(id="manifests", agent="security"),
    )
    step = asyncio.run(specialist_flow(request))

    assert run_name(step.flow_run_id) == "security manifests · task 01234567"
