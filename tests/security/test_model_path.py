"""The model path does what docs/llm.md says, and every model call is bounded (issue 19, 10-11).

Real CrewAI and the real `openai` client against the scripted server over HTTP; the slow local
model is the scripted server in its single-slot mode (one generation at a time, generating on
after the client gave up), as llama.cpp's server behaves on a CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmgenie.agents.ask import ask
from llmgenie.agents.executors import ExecutorError
from llmgenie.agents.llm import CrewAIExecutor
from llmgenie.agents.llm.answer import answer_with_llm
from llmgenie.agents.llm.providers import import_sdk
from llmgenie.core.models import Citation, Mode, Passage, PassageKind, StepStatus, TaskReport
from llmgenie.core.settings import get_settings
from llmgenie.core.storage import open_store
from llmgenie.core.storage.knowledge import open_knowledge
from tests.agents.llm.conftest import ALL_STEPS, EXAMPLE, is_planner, rules_like_plan
from tests.agents.llm.test_llm_executor import _request
from tests.support.cli import run_cli
from tests.support.openai_server import Reply, ScriptedModelServer, final_answer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]


def _model_of(body: dict[str, Any]) -> str:
    return str(body.get("model", ""))


def test_an_answer_that_is_not_json_is_bad_answer_and_the_next_model_is_asked(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    garbage = "\x00\x00" + "words without a JSON object " * 8000  # NULs and ~200 KB of text

    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return Reply.text(rules_like_plan())
        if _model_of(body) == "first":
            return Reply.text(garbage)
        return Reply.text(final_answer("The second model's narrative."))

    model_server.responder = respond
    use_model(model_server, "openai/first,openai/second")
    code, out, err = run_cli(
        capsys, "run", "audit", "--target", str(EXAMPLE), "--agents", "security", "--format", "json"
    )
    assert code == 0, err
    step = TaskReport.model_validate_json(out).steps[0]
    assert step.model == "openai/second" and step.summary == "The second model's narrative."
    first = [a for a in step.attempts if a.executor == "openai/first"]
    assert first and all(a.error_class == "bad_answer" for a in first)
    assert "\x00" not in out


def test_a_tool_that_was_not_offered_is_refused_noted_and_audited(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    turns = iter(
        [
            Reply.tool("prometheus_query", {"query": "up"}),  # offered only with `network`
            Reply.text(final_answer("done")),
            Reply.text(final_answer("done")),
        ]
    )
    model_server.responder = lambda body: next(turns)
    use_model(model_server, "openai/scripted")
    request = _request(attempt_timeout_seconds=300.0)
    result = CrewAIExecutor("openai/scripted", request.spec).execute(request)

    assert result.mode is Mode.llm
    assert any("prometheus_query" in n and "not offered" in n for n in result.notes), result.notes
    events = [
        e
        for e in open_store(get_settings()).audit_events()
        if e.task_id == "t-exec" and e.kind == "tool.denied"
    ]
    assert [e.data["tool"] for e in events] == ["prometheus_query"]


def test_a_rate_limited_planner_is_called_rate_limited_in_the_plan_note(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return Reply.error(429, retry_after=None)
        return Reply.text(final_answer())

    model_server.responder = respond
    use_model(model_server, "openai/scripted")
    code, out, err = run_cli(capsys, "run", "audit", "--target", str(EXAMPLE), "--format", "json")
    assert code == 0, err
    notes = " ".join(TaskReport.model_validate_json(out).plan.notes)
    assert "rate_limit" in notes and "connection" not in notes, notes


def test_the_text_summary_says_when_the_models_plan_was_not_used_and_why(
    capsys: pytest.CaptureFixture[str], model_server: ScriptedModelServer, use_model: Any
) -> None:
    def respond(body: dict[str, Any]) -> Reply:
        if is_planner(body):
            return Reply.text("I would rather not plan today.")
        return Reply.text(final_answer())

    model_server.responder = respond
    use_model(model_server, "openai/scripted")
    code, out, err = run_cli(capsys, "run", "audit", "--target", str(EXAMPLE))
    assert code == 0, err
    plan_line = next(line for line in out.splitlines() if line.startswith("plan ("))
    assert "plan (rules" in plan_line
    assert "the model's plan was not used" in out and "holds no JSON object" in out, out


def test_every_request_carries_an_output_cap_configurable_per_model(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    model_server.responder = lambda body: Reply.text(final_answer())
    use_model(model_server, "openai/scripted")
    request = _request(attempt_timeout_seconds=300.0)
    CrewAIExecutor("openai/scripted", request.spec).execute(request)
    assert model_server.chat_requests()[0].body.get("max_tokens") == 4096

    use_model(
        model_server,
        "openai/small",
        LLMGENIE_LLM_MAX_TOKENS="2048",
        LLMGENIE_LLM_MAX_TOKENS_BY_MODEL='{"openai/small": 512}',
    )
    CrewAIExecutor("openai/small", request.spec).execute(request)
    CrewAIExecutor("openai/other", request.spec).execute(request)
    sent = {r.body["model"]: r.body.get("max_tokens") for r in model_server.chat_requests()[1:]}
    assert sent == {"small": 512, "other": 2048}


def test_tokens_are_estimated_when_the_server_sends_no_usage(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    model_server.responder = lambda body: Reply.text(final_answer("x" * 400), usage=False)
    use_model(model_server, "openai/scripted")
    request = _request(attempt_timeout_seconds=300.0)
    result = CrewAIExecutor("openai/scripted", request.spec).execute(request)
    assert result.tokens.prompt > 100 and result.tokens.completion >= 100


def test_a_call_abandoned_at_its_deadline_still_counts_the_prompt(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    model_server.responder = lambda body: Reply(hang=True)
    use_model(model_server, "openai/scripted")
    import_sdk()  # CrewAI's import is not part of the attempt measured here
    request = _request(attempt_timeout_seconds=3.0)
    with pytest.raises(ExecutorError) as caught:
        CrewAIExecutor("openai/scripted", request.spec).execute(request)
    assert caught.value.error_class == "timeout"
    assert caught.value.tokens.prompt > 100  # the server read it, whether or not it answered


def test_a_single_slot_local_model_costs_one_deadline_not_one_per_step_and_retry(
    capsys: pytest.CaptureFixture[str], use_model: Any
) -> None:
    """llama.cpp on a CPU: one generation at a time, each until the context is full."""

    def respond(body: dict[str, Any]) -> Reply:
        return Reply.text(final_answer(), delay=600)  # generates for ten minutes

    with ScriptedModelServer(respond, single_slot=True) as server:
        use_model(server, "openai/gemma", LLMGENIE_LLM_ATTEMPT_TIMEOUT_SECONDS="2")
        code, out, err = run_cli(
            capsys, "run", "audit", "--target", str(EXAMPLE), "--format", "json"
        )
        asked = len(server.chat_requests())
    assert code == 0, err
    report = TaskReport.model_validate_json(out)
    assert sorted(s.id for s in report.steps) == sorted(ALL_STEPS)
    assert all(s.status is StepStatus.completed and s.mode is Mode.tool_only for s in report.steps)
    # the planner and the steps started beside it (speculative start) asked once each; after the
    # first timeout nothing more was sent: no retry queued behind an abandoned generation
    assert asked <= 4, asked
    for step in report.steps:  # at most the one request it sent before anything timed out
        assert sum(a.error_class == "timeout" for a in step.attempts) <= 1, step.attempts
    skipped = [a for s in report.steps for a in s.attempts if a.error_class == "unresponsive"]
    assert skipped and all("not asked again" in (a.error or "") for a in skipped)
    assert all(
        a.executor == "openai/gemma" for s in report.steps for a in s.attempts[:-1]
    )  # then tool-only, at once
    assert "(timeout)" in " ".join(report.plan.notes)


def _passages(target: str) -> None:
    open_knowledge().publish(
        target,
        [
            Passage(id="rb", target=target, kind=PassageKind.runbook, source="runbooks/api.md",
                    title="How to roll back", text="kubectl -n shop rollout undo deployment/api"),
            Passage(id="db", target=target, kind=PassageKind.doc, source="README.md",
                    title="Database", text="The orders database is PostgreSQL 16 on db-1."),
        ],
    )  # fmt: skip


def test_ask_takes_an_answer_only_when_its_citations_are_about_what_it_says(
    llmgenie_home: Path, model_server: ScriptedModelServer, use_model: Any
) -> None:
    use_model(model_server)
    _passages("/t/shop")
    model_server.responder = lambda body: Reply.text(
        "The moon is made of cheese [1] and bananas are blue [2]."
    )
    answer = ask("how do I roll back the api?", "/t/shop", 2)
    assert answer.mode is Mode.tool_only  # not taken: fell back to the passages themselves
    assert any("cites" in n for n in answer.notes), answer.notes

    citations = [
        Citation(n=1, score=0.9, passage=Passage(id="rb", target="/t", kind=PassageKind.runbook,
                                      source="runbooks/api.md", title="How to roll back",
                                      text="kubectl -n shop rollout undo deployment/api")),
    ]  # fmt: skip
    model_server.responder = lambda body: Reply.text(
        "Roll back with `kubectl -n shop rollout undo deployment/api` [1]."
    )
    assert answer_with_llm("roll back?", citations, ["openai/scripted"]).value.startswith("Roll")
    model_server.responder = lambda body: Reply.text("Nothing to see [1].")
    with pytest.raises(ExecutorError, match="cites"):
        answer_with_llm("roll back?", citations, ["openai/scripted"])


def test_the_models_read_file_shares_the_walkers_per_file_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 GB file inside the target took 6.6 GB of memory when the model read it (point 8)."""
    from llmgenie.agents.llm.guard import ToolDenied, ToolGuard
    from llmgenie.core.context import analyze
    from llmgenie.core.models import Capability

    monkeypatch.setenv("LLMGENIE_MAX_FILE_BYTES", "1000000")
    get_settings.cache_clear()
    (tmp_path / "small.yaml").write_text("a: 1\n")
    with (tmp_path / "huge.log").open("wb") as f:  # sparse: a gigabyte that takes no disk
        f.truncate(1024**3)
    guard = ToolGuard(
        root=tmp_path,
        context=analyze(str(tmp_path)),
        capabilities=frozenset({Capability.read_target}),
        agent="security",
        task_id="t-huge",
        step_id="security",
    )
    with pytest.raises(ToolDenied, match="larger than the per-file limit"):
        guard.read_file("huge.log")
    assert not guard.line_exists("huge.log", 1)
    assert "small.yaml" in guard.read_file("small.yaml")
    assert any("huge.log is larger than the per-file limit" in n for n in guard.notes)
    get_settings.cache_clear()
