"""The guarded read-only tools: confinement to the target, capabilities, recorded refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.llm.guard import ToolDenied, ToolGuard
from llmgenie.core.context import analyze
from llmgenie.core.models import Capability


@pytest.fixture
def guard(tmp_path: Path, llmgenie_home: Path) -> ToolGuard:
    root = tmp_path / "target"
    (root / "deploy").mkdir(parents=True)
    (root / "deploy" / "api.yaml").write_text("kind: Deployment\nimage: shop:latest\n")
    (tmp_path / "outside.txt").write_text("outside\n")
    (root / "escape").symlink_to(tmp_path / "outside.txt")
    (root / "inside-link").symlink_to(root / "deploy" / "api.yaml")
    return ToolGuard(
        root=root,
        context=analyze(str(root)),
        capabilities=frozenset({Capability.read_target}),
        agent="security",
        task_id="t-guard",
        step_id="security",
    )


def test_read_file_numbers_lines_and_remembers_what_it_showed(guard: ToolGuard) -> None:
    text = guard.read_file("deploy/api.yaml")
    assert "    2  image: shop:latest" in text
    assert guard.shown == {"deploy/api.yaml": {1, 2}}


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside.txt", "outside the target"),
        ("deploy/../../outside.txt", "outside the target"),
        ("/etc/passwd", "outside the target"),
        ("escape", "leads outside the target (symlink)"),
    ],
)
def test_paths_out_of_the_target_are_refused_and_noted(
    guard: ToolGuard, path: str, reason: str
) -> None:
    with pytest.raises(ToolDenied):
        guard.read_file(path)
    assert any(reason in n for n in guard.notes)
    assert not guard.shown


def test_a_symlink_inside_the_target_is_read(guard: ToolGuard) -> None:
    assert "Deployment" in guard.read_file("inside-link")


def test_search_reports_file_and_line(guard: ToolGuard) -> None:
    assert guard.search_target("shop:") == "deploy/api.yaml:2: image: shop:latest"
    assert guard.search_target("nothing-like-this") == "no match"


def test_without_read_target_nothing_is_read(guard: ToolGuard) -> None:
    guard.capabilities = frozenset()
    with pytest.raises(ToolDenied):
        guard.read_file("deploy/api.yaml")
    with pytest.raises(ToolDenied):
        guard.search_target("image")


def test_prometheus_needs_the_network_capability(guard: ToolGuard) -> None:
    guard.prometheus_url = "http://127.0.0.1:9"
    with pytest.raises(ToolDenied):
        guard.prometheus_query("up")
    assert any("network capability" in n for n in guard.notes)


def test_line_exists_checks_the_real_file(guard: ToolGuard) -> None:
    assert guard.line_exists("deploy/api.yaml", 2)
    assert not guard.line_exists("deploy/api.yaml", 3)
    assert not guard.line_exists("escape", 1)
    assert not guard.line_exists("../outside.txt", 1)


def test_search_knowledge_reads_this_target_only_and_needs_read_target(
    guard: ToolGuard,
) -> None:
    from llmgenie.core.models import Passage, PassageKind
    from llmgenie.core.storage.knowledge import open_knowledge

    def runbook(pid: str, target: str) -> Passage:
        return Passage(id=pid, target=target, kind=PassageKind.runbook, source="runbooks/api.md",
                       title="How to roll back", text=f"rollout undo deployment/{pid}")  # fmt: skip

    open_knowledge().publish(str(guard.root), [runbook("mine", str(guard.root))])
    open_knowledge().publish("/srv/other", [runbook("theirs", "/srv/other")])
    guard.knowledge_target = str(guard.root)
    answer = guard.search_knowledge("how to roll back")
    assert "deployment/mine" in answer and "theirs" not in answer
    assert guard.calls == 1

    guard.capabilities = frozenset()
    with pytest.raises(ToolDenied):
        guard.search_knowledge("how to roll back")
    assert any("search_knowledge" in n for n in guard.notes)
