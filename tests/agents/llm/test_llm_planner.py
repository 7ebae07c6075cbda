"""The LLM planner against the scripted server: a valid plan, an invalid one, no answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from llmgenie.agents.executors import ExecutorError
from llmgenie.agents.llm.planner import plan_with_llm
from llmgenie.agents.planner import plan_task
from llmgenie.agents.specs import load_specs
from llmgenie.core.context import analyze
from llmgenie.core.models import Caller, Capability, Role
from tests.agents.llm.conftest import EXAMPLE, rules_like_plan
from tests.support.openai_server import Reply, ScriptedModelServer


def test_a_valid_proposal_becomes_an_llm_plan(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    model_server.responder = lambda body: Reply.text("```json\n" + rules_like_plan() + "\n```")
    use_model(model_server)
    plan = plan_task(
        "audit the shop",
        analyze(str(EXAMPLE)),
        load_specs(),
        caller=Caller(),
        model_chain=["openai/scripted"],
    )
    assert plan.planner == "llm"
    assert plan.notes[0] == "planned by openai/scripted"
    docs = next(s for s in plan.steps if s.id == "documentation")
    assert docs.depends_on == ["security", "devops", "performance"]
    assert docs.capabilities == load_specs()["documentation"].needs
    (req,) = model_server.chat_requests()
    assert "Agents:" in json.dumps(req.body["messages"])


def test_a_plan_asking_for_what_the_caller_lacks_falls_back(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    greedy = {"steps": [{"id": "security", "agent": "security", "capabilities": ["network"]}]}
    model_server.responder = lambda body: Reply.text(json.dumps(greedy))
    use_model(model_server)
    plan = plan_task(
        "audit the shop",
        analyze(str(EXAMPLE)),
        load_specs(),
        caller=Caller(name="v", role=Role.viewer),
        model_chain=["openai/scripted"],
    )
    assert plan.planner == "rules"
    assert any("LLM plan rejected" in n and "network" in n for n in plan.notes)
    assert all(Capability.network not in s.capabilities for s in plan.steps)


@pytest.mark.parametrize(
    "reply",
    [Reply.text("I would run security first."), Reply.text('{"steps": "all"}'), Reply.error(500)],
)
def test_no_usable_answer_raises_with_the_reason(
    model_server: ScriptedModelServer, use_model: Any, reply: Reply
) -> None:
    model_server.responder = lambda body: reply
    use_model(model_server)
    with pytest.raises(ExecutorError) as caught:
        plan_with_llm("audit", analyze(str(EXAMPLE)), load_specs(), ["openai/scripted"])
    assert "openai/scripted" in str(caught.value)


def test_the_next_model_is_tried(model_server: ScriptedModelServer, use_model: Any) -> None:
    model_server.responder = lambda body: (
        Reply.error(503) if body["model"] == "down" else Reply.text(rules_like_plan())
    )
    use_model(model_server)
    plan = plan_with_llm("audit", analyze(str(EXAMPLE)), load_specs(), ["openai/down", "openai/up"])
    assert plan.notes[0] == "planned by openai/up"


def test_the_planners_model_call_is_audited_with_the_task_id(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    from llmgenie.core.settings import get_settings
    from llmgenie.core.storage import open_store

    model_server.responder = lambda body: Reply.text(rules_like_plan())
    use_model(model_server)
    plan_task(
        "audit the shop",
        analyze(str(EXAMPLE)),
        load_specs(),
        caller=Caller(),
        model_chain=["openai/scripted"],
        task_id="t-planner-audit",
    )
    events = [
        e
        for e in open_store(get_settings()).audit_events()
        if e.kind == "model.called" and e.data.get("purpose") == "plan"
    ]
    assert events and events[-1].task_id == "t-planner-audit"
    assert events[-1].data["outcome"] == "succeeded"
