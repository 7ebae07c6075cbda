"""Answers from the knowledge base, over a real ChromaDB and the scripted OpenAI-protocol
server: cited by a model, or the passages themselves when no model answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmgenie.agents.ask import answer_question, ask
from llmgenie.core.models import Mode, Passage, PassageKind
from llmgenie.core.settings import get_settings
from llmgenie.core.storage.knowledge import open_knowledge
from tests.support.openai_server import Reply, ScriptedModelServer, last_user_text


def _teach(target: str) -> None:
    open_knowledge().publish(
        target,
        [
            Passage(id="rb", target=target, kind=PassageKind.runbook, source="runbooks/api.md",
                    title="How to roll back", text="kubectl -n shop rollout undo deployment/api"),
            Passage(id="f1", target=target, kind=PassageKind.finding, source="LG-K8S-001",
                    title="Container runs privileged", text="api runs privileged",
                    file="deploy/api.yaml", line=33),
        ],
    )  # fmt: skip


def test_without_a_model_the_answer_is_the_passages_and_says_so(llmgenie_home: Path) -> None:
    _teach("/t/shop")
    answer = ask("how do I roll back the api?", "/t/shop", 2)
    assert answer.mode is Mode.tool_only and answer.model is None
    assert answer.citations[0].passage.id == "rb" and answer.citations[0].n == 1
    assert "[1] How to roll back" in answer.answer and "rollout undo" in answer.answer
    assert any("no model is configured" in n for n in answer.notes)
    unknown = ask("how do I roll back?", "/t/never-taught")
    assert unknown.citations == [] and "knows nothing about /t/never-taught" in unknown.answer


def test_a_model_answers_citing_the_passages(
    model_server: ScriptedModelServer, use_model: Callable[..., None]
) -> None:
    use_model(model_server)
    _teach("/t/shop")
    prompts: list[str] = []

    def respond(body: dict[str, Any]) -> Reply:
        prompts.append(last_user_text(body))
        return Reply.text("Run `kubectl -n shop rollout undo deployment/api` [1].")

    model_server.responder = respond
    answer = ask("how do I roll back the api?", "/t/shop", 2)
    assert answer.mode is Mode.llm and answer.model == "openai/scripted"
    assert [c.passage.id for c in answer.citations] == ["rb"]  # what it cited, nothing else
    assert answer.tokens.total > 0
    assert "[1] runbooks/api.md: How to roll back" in prompts[0]
    assert "[2] LG-K8S-001 (deploy/api.yaml:33)" in prompts[0]


def test_an_answer_without_citations_or_a_dead_model_falls_back_to_the_passages(
    model_server: ScriptedModelServer, use_model: Callable[..., None]
) -> None:
    use_model(model_server, "openai/first,openai/second")
    hits = [
        (Passage(id="rb", target="/t", kind=PassageKind.runbook, source="runbooks/api.md",
                 title="How to roll back", text="kubectl rollout undo"), 0.5),
    ]  # fmt: skip
    model_server.responder = lambda body: (
        Reply.text("Just undo it.") if body["model"] == "first" else Reply.error(500)
    )
    answer = answer_question("roll back?", hits, get_settings().model_chain)
    assert answer.mode is Mode.tool_only and answer.citations[0].passage.id == "rb"
    [note] = answer.notes
    assert "no model answered" in note
    assert "openai/first: the answer cites none of the passages" in note
    assert "openai/second" in note
