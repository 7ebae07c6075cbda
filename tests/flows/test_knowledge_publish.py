"""The Documentation step teaches the knowledge base in a real BOSS run, when the caller's role
grants it; a knowledge base that does not answer costs a note, not the step."""

from __future__ import annotations

import asyncio
import socket

import pytest

from llmgenie.core.models import PassageKind, Role, StepStatus, TaskReport, TaskStatus
from llmgenie.core.storage import open_store
from llmgenie.core.storage.knowledge import open_knowledge
from llmgenie.flows.boss import boss_flow
from tests.flows.conftest import EXAMPLE, use_settings

pytestmark = pytest.mark.usefixtures("llmgenie_home", "prefect_api")


def _run(role: Role = Role.operator, task: str = "audit and document the shop") -> TaskReport:
    return asyncio.run(boss_flow(task=task, target=str(EXAMPLE), role=role))


def _documentation(report: TaskReport):
    return next(s for s in report.steps if s.id == "documentation")


def test_a_run_teaches_what_documentation_wrote_and_found() -> None:
    report = _run()
    doc = _documentation(report)
    assert report.status is TaskStatus.completed
    published = doc.output["knowledge_passages"]
    assert f"knowledge base: {published} passages about {EXAMPLE}" in " ".join(doc.notes)

    knowledge = open_knowledge()
    assert knowledge.count(str(EXAMPLE)) == published
    passage, _ = knowledge.search("how do I roll back the api", 1, str(EXAMPLE))[0]
    assert (passage.kind, passage.source, passage.task_id) == (
        PassageKind.runbook,
        "runbooks/api.md",
        report.task_id,
    )
    hits = knowledge.search("container runs privileged", 3, str(EXAMPLE))
    finding = next(p for p, _ in hits if p.kind is PassageKind.finding)
    assert finding.file == "deploy/api.yaml" and finding.title == "Container runs privileged"
    assert finding.source in {f.rule_id for f in report.findings}

    # a documents-only task later leaves the audit's findings taught
    assert [s.id for s in _run(task="document the shop").steps] == ["documentation"]
    assert any(p.kind is PassageKind.finding for p, _ in knowledge.search(finding.title, 3))

    events = open_store().audit_events()
    [event] = [e for e in events if e.kind == "knowledge.published" and e.task_id == report.task_id]
    assert event.data["passages"] == published


def test_a_viewer_gets_the_documents_but_teaches_nothing() -> None:
    report = _run(Role.viewer)
    doc = _documentation(report)
    assert doc.status is StepStatus.completed and doc.output.get("catalogue_md")
    assert "knowledge_passages" not in doc.output
    assert any("publish_knowledge is not granted" in n and "viewer" in n for n in doc.notes)
    assert open_knowledge().count(str(EXAMPLE)) == 0


def test_a_knowledge_server_that_does_not_answer_costs_a_note(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    use_settings(monkeypatch, knowledge_url=f"http://127.0.0.1:{port}")
    report = _run()
    doc = _documentation(report)
    assert report.status is TaskStatus.completed and doc.status is StepStatus.completed
    [note] = [n for n in doc.notes if n.startswith("knowledge base not updated")]
    assert f"http://127.0.0.1:{port}" in note and "\n" not in note
