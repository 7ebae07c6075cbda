"""Speculative start: while the model plans, the rule-based plan's independent steps already run;
the model's plan keeps them or drops them (docs/decisions/0013-speculative-start.md).

Real CrewAI, the real `openai` client and a real Prefect API; only the model is scripted.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prefect.client.orchestration import get_client

from llmgenie.core.models import Mode, StepStatus, TaskReport
from llmgenie.flows import progress
from tests.agents.llm.conftest import ALL_STEPS, EXAMPLE, is_planner
from tests.support.cli import run_cli
from tests.support.openai_server import (
    Recorded,
    Reply,
    ScriptedModelServer,
    final_answer,
    rules_like_plan,
    step_of,
)
from tests.support.waiting import wait_for_event

pytestmark = pytest.mark.usefixtures("prefect_api")


def _step_of(body: dict[str, Any]) -> str:
    step = step_of(body)
    assert step is not None, body
    return step


def _steps(*names: str) -> Callable[[Recorded], bool]:
    return lambda r: step_of(r.body) in names


def _run(capsys: pytest.CaptureFixture[str], *env: str) -> TaskReport:
    code, out, err = run_cli(
        capsys, "run", "audit the shop", "--target", str(EXAMPLE), "--format", "json"
    )
    assert code == 0, err
    return TaskReport.model_validate_json(out)


def _plan(*steps: dict[str, Any], hold: Callable[[], object] | None = None) -> Reply:
    return Reply.text(json.dumps({"steps": list(steps)}), hold=hold)


@pytest.fixture
def dropped() -> Iterator[dict[str, threading.Event]]:
    """Per step, set once BOSS has told it that the final plan drops it."""
    events: dict[str, threading.Event] = {}

    def listen(step_id: str, event: str, report: object) -> None:
        if event == "dropped":
            events.setdefault(step_id, threading.Event()).set()

    unsubscribe = progress.listen(listen)
    yield events
    unsubscribe()


def test_specialists_start_while_the_model_plans_and_are_kept(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            plan = {
                "steps": [
                    {"id": "security", "agent": "security", "goal": "the model's own words"},
                    {"id": "devops", "agent": "devops"},
                    {"id": "performance", "agent": "performance"},
                    {
                        "id": "documentation",
                        "agent": "documentation",
                        "depends_on": ["security", "devops", "performance"],
                    },
                ]
            }
            # the plan is answered only once the three independent steps have called the model
            three = _steps("security", "devops", "performance")
            return Reply.text(
                json.dumps(plan), hold=lambda: model_server.wait_for(3, three, "step requests")
            )
        return Reply.text(final_answer("narrative"))

    model_server.responder = respond
    use_model(model_server)
    report = _run(capsys)

    planner = next(r for r in model_server.chat_requests() if is_planner(r.body))
    calls = {_step_of(r.body): r for r in model_server.chat_requests() if not is_planner(r.body)}
    for name in ("security", "devops", "performance"):
        assert calls[name].started < planner.finished, f"{name} waited for the plan"
    assert calls["documentation"].started >= planner.finished
    assert calls["documentation"].started >= max(
        calls[n].finished for n in ("security", "devops", "performance")
    )

    assert report.plan.planner == "llm"
    assert [s.id for s in report.steps] == ALL_STEPS
    assert all(s.status is StepStatus.completed and s.mode is Mode.llm for s in report.steps)
    assert any("kept: devops, performance, security" in n for n in report.plan.notes)
    security = next(s for s in report.plan.steps if s.id == "security")
    assert security.goal != "the model's own words"  # the plan records the goal it ran with
    assert len(model_server.chat_requests()) == 5  # nothing ran twice


def test_a_step_the_model_leaves_out_is_dropped_before_its_next_call(
    capsys: pytest.CaptureFixture[str],
    model_server: ScriptedModelServer,
    use_model: Any,
    dropped: dict[str, threading.Event],
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            # the dropped steps' first model calls are under way when the plan is answered
            doomed = _steps("devops", "performance")
            return _plan(
                {"id": "security", "agent": "security"},
                {"id": "documentation", "agent": "documentation", "depends_on": ["security"]},
                hold=lambda: model_server.wait_for(2, doomed, "devops and performance requests"),
            )
        step = _step_of(body)
        if step in ("devops", "performance"):  # would go on investigating, but is dropped
            told = dropped.setdefault(step, threading.Event())
            return Reply.tool(
                "search_target",
                {"pattern": "image:"},
                hold=lambda: wait_for_event(told, f"BOSS to drop {step}"),
            )
        return Reply.text(final_answer(f"{step} narrative"))

    model_server.responder = respond
    use_model(model_server)
    report = _run(capsys)

    assert [s.id for s in report.steps] == ["security", "documentation"]
    assert all(s.status is StepStatus.completed for s in report.steps)
    assert any("dropped: devops, performance" in n for n in report.plan.notes)
    assert {f.agent for f in report.findings} <= {"security", "documentation"}
    by_step: dict[str, int] = {}
    for r in model_server.chat_requests():
        if not is_planner(r.body):
            by_step[_step_of(r.body)] = by_step.get(_step_of(r.body), 0) + 1
    assert by_step["devops"] == 1 and by_step["performance"] == 1  # no call after the drop

    async def dropped_runs() -> list[Any]:
        async with get_client() as client:
            boss = await client.read_flow_run(uuid.UUID(report.flow_run_id or ""))
            runs = await client.read_flow_runs()
            mine = [r for r in runs if r.name.endswith(f"task {report.task_id[:8]}")]
            return [
                boss,
                [r for r in mine if r.name.split()[0].rstrip(":") in ("devops", "performance")],
            ]

    boss, dropped = asyncio.run(dropped_runs())
    assert len(dropped) == 2
    for run in dropped:
        assert run.state is not None and run.state.name == "Cancelled", run.state
        assert "dropped by BOSS" in (run.state.message or "")
        assert run.end_time is not None and boss.end_time is not None
        assert run.end_time <= boss.end_time  # BOSS finished after its dropped children


def test_no_speculative_start_when_switched_off(
    capsys: pytest.CaptureFixture[str],
    model_server: ScriptedModelServer,
    use_model: Any,
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return Reply.text(rules_like_plan())
        return Reply.text(final_answer("narrative"))

    model_server.responder = respond
    use_model(model_server, LLMGENIE_SPECULATIVE_START="false")
    report = _run(capsys)

    planner = next(r for r in model_server.chat_requests() if is_planner(r.body))
    others = [r for r in model_server.chat_requests() if not is_planner(r.body)]
    assert min(r.started for r in others) >= planner.finished
    assert not any("before the model's plan" in n for n in report.plan.notes)
