"""`llmgenie run` with a model chain, against a scripted OpenAI-protocol server over HTTP.

Real CrewAI, the real `openai` client, a real Prefect API: only the model is scripted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmgenie.core.models import AttemptOutcome, Mode, StepStatus, TaskReport
from tests.agents.llm.conftest import (
    ALL_STEPS,
    API_KEY,
    EXAMPLE,
    default_responder,
    is_planner,
)
from tests.support.cli import run_cli
from tests.support.openai_server import Recorded, Reply, ScriptedModelServer, final_answer, step_of

pytestmark = pytest.mark.usefixtures("prefect_api")


def _run(capsys: pytest.CaptureFixture[str], *extra: str) -> TaskReport:
    code, out, err = run_cli(
        capsys, "run", "audit the shop", "--target", str(EXAMPLE), "--format", "json", *extra
    )
    assert code == 0, err
    return TaskReport.model_validate_json(out)


def _findings(report: TaskReport) -> set[tuple[str, str | None, int | None, str | None]]:
    return {(f.rule_id, f.file, f.line, f.resource) for f in report.findings}


def test_every_step_runs_on_the_model_and_specialists_overlap(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    def is_independent(r: Recorded) -> bool:
        return step_of(r.body) in ("security", "devops", "performance")

    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return default_responder(body)
        # each independent step's answer waits until all three have asked: they overlap, or
        # the wait fails the test
        return Reply.text(
            final_answer("The scripted model's narrative."),
            hold=lambda: model_server.wait_for(3, is_independent, "independent step requests"),
        )

    model_server.responder = respond
    use_model(model_server, "openai/scripted-a")
    report = _run(capsys)

    assert report.plan.planner == "llm"
    assert [s.id for s in report.steps] == ALL_STEPS
    for step in report.steps:
        assert step.status is StepStatus.completed
        assert step.mode is Mode.llm, step.attempts
        assert step.model == "openai/scripted-a"
        assert step.summary == "The scripted model's narrative."
        assert step.attempts[-1].outcome is AttemptOutcome.succeeded
        assert step.attempts[-1].tokens.total == 120
    assert report.tokens.total >= 4 * 120

    calls = [r for r in model_server.chat_requests() if not is_planner(r.body)]
    by_step: dict[str, Any] = {}
    for r in calls:
        by_step.setdefault(step_of(r.body), r)
    independent = [by_step[n] for n in ("security", "devops", "performance")]
    latest_start = max(r.started for r in independent)
    earliest_end = min(r.finished for r in independent)
    assert latest_start < earliest_end, "the three specialists' model calls did not overlap"
    assert by_step["documentation"].started >= max(r.finished for r in independent)
    assert all(r.headers.get("authorization") == f"Bearer {API_KEY}" for r in calls)


def test_server_errors_fall_back_to_tool_only_with_the_same_findings(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    baseline = _run(capsys, "--agents", "security,devops")  # no model configured yet
    assert all(s.mode is Mode.tool_only and not s.attempts[:-1] for s in baseline.steps)

    model_server.responder = lambda body: Reply.error(500)
    use_model(model_server, "openai/scripted-a", LLMGENIE_STEP_RETRIES="1")
    report = _run(capsys, "--agents", "security,devops")

    assert report.status.value == "completed"
    for step in report.steps:
        assert step.status is StepStatus.completed
        assert step.mode is Mode.tool_only and step.model is None
        failed = [a for a in step.attempts if a.executor == "openai/scripted-a"]
        assert len(failed) == 2  # the first try and one retry of a transient error
        assert all(a.outcome is AttemptOutcome.failed for a in failed)
        assert all(a.error_class == "server_error" and "HTTP 500" in a.error for a in failed)
        assert step.attempts[-1].executor == "tool-only"
    assert _findings(report) == _findings(baseline)
    assert API_KEY not in report.model_dump_json()


def test_two_model_chain_first_failing_ends_on_the_second(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if body.get("model") == "broken":
            return Reply.error(401)
        return default_responder(body)

    model_server.responder = respond
    use_model(model_server, "openai/broken,openai/working")
    report = _run(capsys)

    assert report.plan.planner == "llm"
    assert any("planned by openai/working" in n for n in report.plan.notes)
    for step in report.steps:
        assert step.mode is Mode.llm and step.model == "openai/working"
        first, last = step.attempts[0], step.attempts[-1]
        assert (first.executor, first.error_class) == ("openai/broken", "auth")
        assert len([a for a in step.attempts if a.executor == "openai/broken"]) == 1  # no retry
        assert (last.executor, last.outcome) == ("openai/working", AttemptOutcome.succeeded)


def test_token_budget_exceeded_falls_back_to_tool_only(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return default_responder(body)
        return Reply.text(final_answer("too expensive"), prompt_tokens=400, completion_tokens=50)

    model_server.responder = respond
    use_model(model_server, "openai/scripted-a", LLMGENIE_TOKEN_BUDGET="200")
    report = _run(capsys, "--agents", "security")

    (step,) = report.steps
    assert step.mode is Mode.tool_only
    model_attempts = [a for a in step.attempts if a.executor == "openai/scripted-a"]
    assert model_attempts[0].error_class == "budget"
    assert model_attempts[0].tokens.total == 450  # what was spent is still accounted
    assert "too expensive" not in step.summary


def test_invalid_llm_plan_falls_back_to_the_rules(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    cyclic = {
        "steps": [
            {"id": "security", "agent": "security", "depends_on": ["devops"]},
            {"id": "devops", "agent": "devops", "depends_on": ["security"]},
            {"id": "wizard", "agent": "wizard"},
        ]
    }

    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return Reply.text(json.dumps(cyclic))
        return default_responder(body)

    model_server.responder = respond
    use_model(model_server, "openai/scripted-a")
    report = _run(capsys)

    assert report.plan.planner == "rules"
    rejected = [n for n in report.plan.notes if "LLM plan rejected" in n]
    assert rejected and "cycle" in rejected[0] and "wizard" in rejected[0]
    assert sorted(s.id for s in report.steps) == sorted(ALL_STEPS)
    assert all(s.mode is Mode.llm for s in report.steps)  # the specialists still use the model
