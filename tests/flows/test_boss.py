"""BOSS on a real Prefect API: DAG order, concurrency, retries, fallback, failures, denial."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path

import pytest
from prefect.client.orchestration import get_client

from llmgenie.agents.tools import TOOLSETS
from llmgenie.agents.tools.base import ToolsetResult
from llmgenie.core.models import (
    AttemptOutcome,
    Mode,
    Role,
    StepStatus,
    TaskReport,
    TaskStatus,
)
from llmgenie.flows.boss import boss_flow
from llmgenie.flows.specialist import SpecialistRequest
from tests.flows.conftest import EXAMPLE, TimedToolset, use_settings
from tests.support.reports import make_finding
from tests.support.waiting import wait_until

pytestmark = pytest.mark.usefixtures("llmgenie_home", "prefect_api")


def run_boss(task: str = "review the shop", **kwargs: object) -> TaskReport:
    return asyncio.run(boss_flow(task=task, target=str(EXAMPLE), **kwargs))


def step(report: TaskReport, step_id: str):
    return next(s for s in report.steps if s.id == step_id)


def test_all_specialists_run_as_child_flow_runs_with_documentation_last() -> None:
    report = run_boss()

    assert report.status is TaskStatus.completed
    assert [s.id for s in report.steps] == ["devops", "security", "performance", "documentation"]
    ids = {s.flow_run_id for s in report.steps}
    assert None not in ids and len(ids) == 4
    doc = step(report, "documentation")
    others = [s for s in report.steps if s.id != "documentation"]
    assert all(doc.started_at >= s.finished_at for s in others)

    async def parents() -> set[str]:
        async with get_client() as client:
            children = [await client.read_flow_run(uuid.UUID(i)) for i in ids]
            task_runs = [await client.read_task_run(c.parent_task_run_id) for c in children]
            return {str(t.flow_run_id) for t in task_runs}

    assert asyncio.run(parents()) == {report.flow_run_id}

    async def artifacts(flow_run_id: str) -> set[tuple[str, str | None]]:
        from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

        async with get_client() as client:
            found = await client.read_artifacts(
                artifact_filter=ArtifactFilter(
                    flow_run_id=ArtifactFilterFlowRunId(any_=[uuid.UUID(flow_run_id)])
                )
            )
            return {(a.type, a.key) for a in found}

    # every child shows its own report, BOSS the task's and its files, before BOSS completes
    for run_id in ids:
        assert {t for t, _ in asyncio.run(artifacts(run_id))} == {"markdown"}
    assert {k for _, k in asyncio.run(artifacts(report.flow_run_id))} >= {
        "llmgenie-task-report",
        "llmgenie-task-findings",
        "report-md",
        "report-json",
        "llmgenie-step-files",
    }


def test_each_step_shows_its_four_stages_as_task_runs_in_the_api() -> None:
    report = run_boss(agents=["security"])
    flow_run_id = uuid.UUID(step(report, "security").flow_run_id or "")

    async def stage_names() -> list[str]:
        from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterFlowRunId

        async with get_client() as client:
            runs = await client.read_task_runs(
                task_run_filter=TaskRunFilter(
                    flow_run_id=TaskRunFilterFlowRunId(any_=[flow_run_id])
                )
            )
            return sorted(r.name.rsplit("-", 1)[0] for r in runs if r.state_name == "Completed")

    # task runs reach the API as events, which the server records in batches (flows/server.py)
    expected = [
        "1 context slice",
        "2 permission check",
        "3 environment setup",
        "4 execute with fallback",
    ]
    names = wait_until(
        lambda: asyncio.run(stage_names()),
        "the four stages' task runs to be recorded",
        until=lambda names: names == expected,
    )
    assert names == expected


def test_independent_steps_run_at_the_same_time(timed_toolsets: dict[str, TimedToolset]) -> None:
    # Each independent step waits until all three are inside their toolsets at once: if BOSS
    # ran them one after another the barrier would break and the steps would fail.
    barrier = threading.Barrier(3)
    for name in ("devops", "security", "performance"):
        timed_toolsets[name].barrier = barrier

    report = run_boss()

    assert report.status is TaskStatus.completed, report.notes
    assert not barrier.broken
    runs = [timed_toolsets[n].runs[0] for n in ("devops", "security", "performance")]
    doc_start, _ = timed_toolsets["documentation"].runs[0]
    assert doc_start >= max(end for _, end in runs)


def test_transient_failure_is_retried_then_succeeds(
    monkeypatch: pytest.MonkeyPatch, scripted_models: dict[str, list[str | None]]
) -> None:
    scripted_models["once"] = ["rate_limit", None]
    use_settings(monkeypatch, llm="scripted/once", step_retries="2")

    report = run_boss(agents=["security"])

    sec = step(report, "security")
    assert sec.status is StepStatus.completed
    assert sec.mode is Mode.llm and sec.model == "scripted/once"
    assert [(a.executor, a.outcome, a.error_class) for a in sec.attempts] == [
        ("scripted/once", AttemptOutcome.failed, "rate_limit"),
        ("scripted/once", AttemptOutcome.succeeded, None),
    ]
    assert report.tokens.prompt == 13


def test_retries_exhausted_move_to_the_next_executor(
    monkeypatch: pytest.MonkeyPatch, scripted_models: dict[str, list[str | None]]
) -> None:
    scripted_models["down"] = ["server_error"]
    scripted_models["auth"] = ["auth"]
    use_settings(monkeypatch, llm="scripted/down,scripted/auth", step_retries="2")

    report = run_boss(agents=["security"])

    sec = step(report, "security")
    assert sec.status is StepStatus.completed
    assert sec.mode is Mode.tool_only and sec.model is None
    assert [(a.executor, a.outcome) for a in sec.attempts] == [
        ("scripted/down", AttemptOutcome.failed),
        ("scripted/down", AttemptOutcome.failed),
        ("scripted/down", AttemptOutcome.failed),
        ("scripted/auth", AttemptOutcome.failed),  # not transient: no retry
        ("tool-only", AttemptOutcome.succeeded),
    ]
    assert sec.findings, "tool findings are never lost when models fail"
    assert "scripted/auth attempt 1: refused a tool call" in sec.notes


def test_a_step_that_raises_fails_alone(
    monkeypatch: pytest.MonkeyPatch, timed_toolsets: dict[str, TimedToolset]
) -> None:
    use_settings(monkeypatch, step_retries="1", step_retry_base_delay_seconds="0")
    timed_toolsets["performance"].error = RuntimeError("disk on fire")

    report = run_boss()

    assert report.status is TaskStatus.completed_with_errors
    perf = step(report, "performance")
    assert perf.status is StepStatus.failed
    assert "disk on fire" in (perf.error or "")
    assert perf.flow_run_id
    assert {s.id for s in report.steps if s.status is StepStatus.completed} == {
        "devops",
        "security",
        "documentation",
    }
    assert any("performance failed" in n for n in report.notes)


def test_a_step_that_times_out_fails_alone(
    monkeypatch: pytest.MonkeyPatch, timed_toolsets: dict[str, TimedToolset]
) -> None:
    # devops never finishes; the others finish in well under the timeout, even on a loaded machine
    use_settings(monkeypatch, step_timeout_seconds="8", step_retries="0")
    timed_toolsets["devops"].release = threading.Event()

    report = run_boss()

    devops = step(report, "devops")
    assert devops.status is StepStatus.failed
    assert "timed out" in (devops.error or "").lower()
    assert step(report, "security").status is StepStatus.completed
    assert report.status is TaskStatus.completed_with_errors

    async def child_states() -> list[str]:
        async with get_client() as client:
            runs = [await client.read_flow_run(uuid.UUID(s.flow_run_id)) for s in report.steps]
            boss = await client.read_flow_run(uuid.UUID(report.flow_run_id))
            return [r.state.type.value for r in runs] + [boss.state.type.value]

    states = asyncio.run(child_states())
    assert states[-1] == "COMPLETED"
    assert "RUNNING" not in states and "PENDING" not in states, states


def test_boss_parameters_render_as_a_described_form() -> None:
    schema = boss_flow.parameters.model_dump()
    assert schema["required"] == ["task", "target"]
    assert all(p.get("description") for p in schema["properties"].values())


def test_a_denied_step_is_recorded_and_the_rest_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(monkeypatch, prometheus_url="http://127.0.0.1:9")

    report = run_boss(role=Role.viewer)

    perf = step(report, "performance")
    assert perf.status is StepStatus.denied
    assert [c.value for c in perf.missing_capabilities] == ["network"]
    assert step(report, "security").status is StepStatus.completed
    assert step(report, "documentation").status is StepStatus.completed
    assert report.status is TaskStatus.completed_with_errors


def test_missing_target_fails_before_any_step(tmp_path: Path) -> None:
    from llmgenie.core.targets import TargetError

    with pytest.raises(TargetError, match="does not exist"):
        asyncio.run(boss_flow(task="review", target=str(tmp_path / "missing")))


def test_settle_speculation_keeps_same_steps_and_signals_the_others() -> None:
    from llmgenie.core.context import analyze
    from llmgenie.core.models import AgentReport, Capability, Plan, Step
    from llmgenie.flows.boss import settle_speculation
    from llmgenie.flows.sessions import TaskSession

    rules = Plan(
        steps=[
            Step(id="security", agent="security", goal="rules goal"),
            Step(id="devops", agent="devops"),
            Step(id="performance", agent="performance"),
        ],
        planner="rules",
    )
    model = Plan(
        steps=[
            Step(id="security", agent="security", goal="model goal"),  # kept, rules goal stays
            Step(id="devops", agent="devops", depends_on=["security"]),  # now waits: dropped
            Step(id="performance", agent="performance", capabilities=[Capability.network]),
        ],
        planner="llm",
    )

    async def settle() -> tuple[Plan, set[str], TaskSession]:
        async def report() -> AgentReport:
            return AgentReport(id="x", agent="security", status=StepStatus.completed)

        early = {s.id: asyncio.create_task(report()) for s in rules.steps}
        session = TaskSession(root=EXAMPLE, context=analyze(str(EXAMPLE)))
        plan, kept = settle_speculation(model, rules, early, session)
        await asyncio.gather(*early.values())
        return plan, set(kept), session

    plan, kept, session = asyncio.run(settle())

    assert kept == {"security"}
    assert next(s for s in plan.steps if s.id == "security").goal == "rules goal"
    assert next(s for s in plan.steps if s.id == "devops").depends_on == ["security"]
    assert {i for i, e in session.drops.items() if e.is_set()} == {"devops", "performance"}
    assert any("dropped: devops, performance" in n for n in plan.notes)
    assert any("kept: security" in n for n in plan.notes)


def test_a_boss_that_fails_after_planning_leaves_no_running_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long-lived process (the REST API) must not list it as running, heartbeating, forever."""
    import llmgenie.flows.boss as boss
    from llmgenie.core.storage import open_store

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("the Prefect API went away")

    monkeypatch.setattr(boss, "run_plan", broken)
    task_id = uuid.uuid4().hex
    with pytest.raises(RuntimeError, match="went away"):
        run_boss(task_id=task_id)
    [row] = [t for t in open_store().list_tasks() if t.id == task_id]
    assert row.status is TaskStatus.failed


def test_a_task_is_recorded_before_it_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model may plan for seconds: the task is listed as running meanwhile, and a task that
    fails while it plans is recorded as failed, not lost."""
    import llmgenie.flows.boss as boss
    from llmgenie.core.storage import open_store

    seen: list[TaskStatus] = []
    task_id = uuid.uuid4().hex

    def planning(*args: object, **kwargs: object) -> object:
        seen.extend(t.status for t in open_store().list_tasks() if t.id == task_id)
        raise RuntimeError("the planner broke")

    monkeypatch.setattr(boss, "plan_task", planning)
    with pytest.raises(RuntimeError, match="planner broke"):
        run_boss(task_id=task_id)
    assert seen == [TaskStatus.running]
    [row] = [t for t in open_store().list_tasks() if t.id == task_id]
    assert row.status is TaskStatus.failed
    report = open_store().get_report(task_id)
    assert report is not None and report.notes == ["failed: RuntimeError: the planner broke"]


class _ManyFindings:
    """A toolset whose report is larger than Prefect accepts as flow-run parameters (512 KiB)."""

    name = "security"

    def run(self, inp: object) -> ToolsetResult:
        return ToolsetResult(findings=[make_finding(i) for i in range(2500)])


def _parameters(flow_run_id: str | None) -> dict[str, object]:
    async def read() -> dict[str, object]:
        async with get_client() as client:
            return (await client.read_flow_run(uuid.UUID(flow_run_id or ""))).parameters

    return asyncio.run(read())


def test_prior_reports_reach_the_next_step_by_reference_never_as_parameters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A big repository's reports run to megabytes; the next step's request names them only."""
    monkeypatch.setitem(TOOLSETS, "security", _ManyFindings())
    report = run_boss(agents=["security", "documentation"])

    assert report.status is TaskStatus.completed, report.notes
    assert len(step(report, "security").findings) == 2500
    doc = step(report, "documentation")
    assert "the reports of: security" in doc.output["catalogue_md"]
    sent = _parameters(doc.flow_run_id)["request"]
    assert isinstance(sent, dict)
    assert sent["prior_steps"] == ["security"] and "prior_reports" not in sent
    assert len(str(sent)) < 4000


def test_a_step_whose_run_cannot_be_created_fails_alone_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import llmgenie.flows.boss as boss

    dispatch = boss.dispatch_step

    async def oversized(request: SpecialistRequest, settings: object) -> object:
        # a request Prefect refuses (over 512 KiB): only the documentation step's
        if request.step.id == "documentation":
            request = request.model_copy(update={"task": "x" * 600_000})
        return await dispatch(request, settings)  # type: ignore[arg-type]

    monkeypatch.setattr(boss, "dispatch_step", oversized)
    report = run_boss(agents=["security", "documentation"])

    assert report.status is TaskStatus.completed_with_errors
    assert step(report, "security").status is StepStatus.completed
    doc = step(report, "documentation")
    assert doc.status is StepStatus.failed and doc.flow_run_id is None
    assert doc.error is not None and doc.error.startswith(
        "the step could not start: the Prefect API answered 422: "
    )
    assert "524,288 bytes" in doc.error and len(doc.error) <= 500
