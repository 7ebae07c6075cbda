"""The CrewAI executor on its own: error classes, caps, evidence checks, masked keys.

Each test drives the real CrewAI and the real `openai` client against the scripted server.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from llmgenie.agents.executors import ExecutionRequest, ExecutorError
from llmgenie.agents.llm import CrewAIExecutor
from llmgenie.agents.specs import load_specs
from llmgenie.agents.tools.base import ToolsetResult
from llmgenie.core.context import analyze
from llmgenie.core.models import Capability, Finding, Mode, Severity, Step
from tests.agents.llm.conftest import API_KEY, EXAMPLE
from tests.support.openai_server import Reply, ScriptedModelServer, final_answer

MODEL = "openai/scripted"


def _request(root: Path = EXAMPLE, **spec_changes: Any) -> ExecutionRequest:
    spec = load_specs()["security"]
    spec = spec.model_copy(update={"attempt_timeout_seconds": 20.0, **spec_changes})
    tool_finding = Finding(
        rule_id="LG-K8S-001",
        category="k8s.privileged",
        severity=Severity.critical,
        agent="security",
        title="Container runs privileged",
        message="privileged",
        file="deploy/api.yaml",
        line=1,
    )
    return ExecutionRequest(
        task_text="audit the shop",
        step=Step(id="security", agent="security"),
        spec=spec,
        context=analyze(str(root)),
        root=root,
        toolset=ToolsetResult(findings=[tool_finding], files_scanned=3),
        capabilities=frozenset({Capability.read_target}),
        task_id="t-exec",
    )


def _execute(server: ScriptedModelServer, use_model: Any, request: ExecutionRequest) -> Any:
    use_model(server, MODEL)
    return CrewAIExecutor(MODEL, request.spec).execute(request)


@pytest.mark.parametrize(
    ("reply", "error_class"),
    [
        (Reply.error(429), "rate_limit"),
        (Reply.error(500), "server_error"),
        (Reply.error(503), "server_error"),
        (Reply.error(401), "auth"),
        (Reply.error(403), "auth"),
        (Reply(malformed=True), "bad_answer"),
        (Reply.text(""), "empty_answer"),
    ],
)
def test_provider_failures_map_to_error_classes(
    model_server: ScriptedModelServer, use_model: Any, reply: Reply, error_class: str
) -> None:
    model_server.responder = lambda body: reply
    with pytest.raises(ExecutorError) as caught:
        _execute(model_server, use_model, _request())
    assert caught.value.error_class == error_class
    assert API_KEY not in str(caught.value)
    # one attempt = one HTTP call: retries belong to the chain, not to CrewAI or the client
    assert len(model_server.chat_requests()) == 1


@pytest.mark.parametrize(
    ("message", "error_class"),
    [
        ("This model's maximum context length is 8192 tokens.", "context_length"),
        ("Unsupported parameter: 'tool_choice'.", "bad_request"),
    ],
)
def test_context_length_is_told_apart_from_other_bad_requests(
    model_server: ScriptedModelServer, use_model: Any, message: str, error_class: str
) -> None:
    model_server.responder = lambda body: Reply.error(400, message=message)
    with pytest.raises(ExecutorError) as caught:
        _execute(model_server, use_model, _request())
    assert caught.value.error_class == error_class


def test_a_hanging_connection_is_a_timeout_within_the_attempt_cap(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    model_server.responder = lambda body: Reply(hang=True)
    use_model(model_server, MODEL)  # CrewAI loaded before the clock starts, as the CLI does
    started = time.monotonic()
    with pytest.raises(ExecutorError) as caught:
        _execute(model_server, use_model, _request(attempt_timeout_seconds=2.0))
    assert caught.value.error_class == "timeout"
    # the request was cut at the attempt's deadline (1.8 s), not at the shared client's ceiling
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("model", ["openai/scripted", "anthropic/claude-scripted"])
def test_a_model_that_never_stops_calling_tools_hits_our_iteration_cap(
    model_server: ScriptedModelServer,
    use_model: Any,
    monkeypatch: pytest.MonkeyPatch,
    model: str,
) -> None:
    model_server.responder = lambda body: Reply.tool("search_target", {"pattern": "image"})
    use_model(model_server, model)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.root_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    request = _request(max_iterations=2)
    with pytest.raises(ExecutorError) as caught:
        CrewAIExecutor(model, request.spec).execute(request)
    assert caught.value.error_class == "iteration_limit", str(caught.value)
    assert len(model_server.chat_requests()) <= 2 + 2


def test_findings_need_evidence_a_tool_returned(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    proposals = [
        {  # read through read_file below: kept
            "severity": "medium",
            "category": "k8s.image-latest-tag",
            "title": "Seen by the model",
            "message": "the model read it",
            "file": "deploy/api.yaml",
            "line": 3,
        },
        {  # a real file, but no tool showed this line
            "severity": "high",
            "title": "Guessed",
            "file": "Dockerfile",
            "line": 1,
        },
        {"severity": "high", "title": "Invented", "file": "deploy/nowhere.yaml", "line": 7},
        {"severity": "high", "title": "Past the end", "file": "deploy/api.yaml", "line": 99999},
    ]
    replies = iter(
        [
            Reply.tool("read_file", {"path": "deploy/api.yaml", "start_line": 1, "end_line": 5}),
            Reply.text(final_answer("Looked at the manifest.", proposals)),
        ]
    )
    model_server.responder = lambda body: next(replies)
    result = _execute(model_server, use_model, _request())

    assert result.mode is Mode.llm and result.model == MODEL
    assert [f.title for f in result.findings] == ["Seen by the model"]
    kept = result.findings[0]
    assert (kept.file, kept.line, kept.agent, kept.rule_id) == (
        "deploy/api.yaml",
        3,
        "security",
        "LG-LLM-SECURITY",
    )
    dropped = [n for n in result.notes if n.startswith("dropped model finding")]
    assert len(dropped) == 3
    assert any("no tool returned Dockerfile:1" in n for n in dropped)
    assert any("deploy/nowhere.yaml:7 is not in the target" in n for n in dropped)
    assert result.tokens.total == 240
    # the tool's answer reached the model: the second request carries the file's lines
    second = json.dumps(model_server.chat_requests()[1].body["messages"])
    assert "deploy/api.yaml (" in second


def test_the_key_goes_only_in_the_authorization_header(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    _execute(model_server, use_model, _request())
    (req,) = model_server.chat_requests()
    assert req.headers["authorization"] == f"Bearer {API_KEY}"
    assert API_KEY not in json.dumps(req.body)


def test_a_step_builds_no_crewai_replay_log(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    """CrewAI's replay log is a SQLite file opened under a cross-process file lock (polled every
    0.25 s) each time a Crew is built; steps building crews at once queued on it."""
    from crewai_core.paths import db_storage_path

    replay_log = Path(db_storage_path()) / "latest_kickoff_task_outputs.db"
    replay_log.unlink(missing_ok=True)
    result = _execute(model_server, use_model, _request())
    assert result.mode is Mode.llm
    assert not replay_log.exists()


def test_the_prompt_is_budgeted_when_tool_output_is_large(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    request = _request()
    request.toolset = ToolsetResult(
        findings=request.toolset.findings, output={"inventory": ["x" * 50 for _ in range(5000)]}
    )
    _execute(model_server, use_model, request)
    (req,) = model_server.chat_requests()
    prompt = json.dumps(req.body["messages"])
    assert len(prompt) < 30_000
    assert "tool output summarised" in prompt


def test_anthropic_models_speak_the_messages_protocol(
    model_server: ScriptedModelServer, use_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    replies = iter(
        [
            Reply.tool("search_target", {"pattern": "image:"}),
            Reply.text(final_answer("Claude's narrative."), prompt_tokens=70, completion_tokens=9),
        ]
    )
    model_server.responder = lambda body: next(replies)
    use_model(model_server, "anthropic/claude-scripted")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", model_server.root_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    request = _request()
    result = CrewAIExecutor("anthropic/claude-scripted", request.spec).execute(request)

    assert (result.mode, result.model) == (Mode.llm, "anthropic/claude-scripted")
    assert result.summary == "Claude's narrative."
    assert result.tokens.total == 100 + 20 + 70 + 9
    first, second = model_server.chat_requests()
    assert first.path == "/v1/messages", first.headers
    sent_key = first.headers.get("x-api-key") or first.headers.get("authorization", "")
    assert sent_key.removeprefix("Bearer ") == API_KEY
    assert "search_target" in first.tool_names or any(
        t.get("name") == "search_target" for t in first.body.get("tools", [])
    )
    assert "image:" in json.dumps(second.body["messages"])  # the tool's answer went back


def test_an_ollama_model_keeps_its_name_in_errors(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    """Ollama's placeholder key is the word "ollama": masking it mangled the model's name."""
    model_server.responder = lambda body: Reply.error(500)
    host = model_server.base_url.removesuffix("/v1")
    use_model(model_server, "ollama/scripted", OLLAMA_HOST=host)
    request = _request()
    with pytest.raises(ExecutorError) as caught:
        CrewAIExecutor("ollama/scripted", request.spec).execute(request)
    assert str(caught.value).startswith("ollama/scripted: "), str(caught.value)
    assert caught.value.error_class == "server_error"
    assert len(model_server.chat_requests()) == 1  # it did reach the (scripted) Ollama
