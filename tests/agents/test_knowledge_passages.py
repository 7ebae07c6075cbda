"""What Documentation teaches the knowledge base: sections of docs, catalogue and runbooks, and
the findings, built from plain data."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.knowledge import MAX_DOC_BYTES, passages_for, sections
from llmgenie.core.models import (
    Context,
    ContextFile,
    FileKind,
    PassageKind,
    Target,
    TargetKind,
)
from tests.support.reports import make_finding


def test_sections_follow_headings_but_not_hashes_in_code() -> None:
    md = (
        "intro line\n\n# Deploy\nrun it\n"
        "```sh\n# not a heading\nkubectl apply\n```\n"
        "## Roll back\nundo\n"
    )
    got = sections(md, "README.md")
    assert [(title, line) for title, line, _ in got] == [
        ("README.md", 1),
        ("Deploy", 3),
        ("Roll back", 9),
    ]
    assert "# not a heading" in got[1][2] and "kubectl apply" in got[1][2]


def _context(root: Path, files: list[tuple[str, int]]) -> Context:
    return Context(
        root=str(root),
        target=Target(location=str(root), kind=TargetKind.folder),
        files=[ContextFile(path=p, kind=FileKind.doc, size=size) for p, size in files],
    )


def test_docs_catalogue_runbooks_and_findings_become_passages(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Shop\nSells things.\n## Deploy\nmake deploy\n")
    (tmp_path / "huge.md").write_text("x")
    (tmp_path / "latin1.md").write_bytes(b"caf\xe9")
    context = _context(
        tmp_path, [("README.md", 40), ("huge.md", MAX_DOC_BYTES + 1), ("latin1.md", 4)]
    )
    findings = [make_finding(1), make_finding(1), make_finding(2)]  # one twice: taught once
    passages, notes = passages_for(
        "shop",
        "task-1",
        context,
        tmp_path,
        "# Service catalogue\n## Services\n| api | 8080 |\n",
        {"api": "# Runbook: api\n## How to roll back\nkubectl rollout undo deployment/api\n"},
        findings,
    )
    kinds = [p.kind for p in passages]
    assert kinds.count(PassageKind.doc) == 2  # README's two sections
    assert kinds.count(PassageKind.finding) == 2
    rollback = next(p for p in passages if p.title == "How to roll back")
    assert (rollback.kind, rollback.source, rollback.task_id) == (
        PassageKind.runbook,
        "runbooks/api.md",
        "task-1",
    )
    deploy = next(p for p in passages if p.title == "Deploy")
    assert (deploy.file, deploy.line) == ("README.md", 3)
    finding = next(p for p in passages if p.kind is PassageKind.finding)
    assert finding.file and finding.source.startswith("LG-") and "Fix:" in finding.text
    assert any("huge.md not taught" in n for n in notes)
    assert any("latin1.md not taught" in n for n in notes)
    # ids are stable: the same section of the same target keeps its id on the next task
    again, _ = passages_for("shop", "task-2", context, tmp_path, "", {}, findings)
    assert {p.id for p in again if p.kind is PassageKind.doc} == {
        p.id for p in passages if p.kind is PassageKind.doc
    }


def test_a_long_section_is_split_between_paragraphs(tmp_path: Path) -> None:
    body = "\n\n".join(f"paragraph {i} " + "word " * 60 for i in range(12))
    passages, _ = passages_for(
        "shop", "t", _context(tmp_path, []), tmp_path, f"# Long\n{body}", {}, []
    )
    assert len(passages) > 1
    assert all(len(p.text) <= 1_500 for p in passages)
    assert len({p.id for p in passages}) == len(passages)
