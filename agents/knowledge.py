"""What the Documentation step teaches the knowledge base: passages from the target's own docs,
the service catalogue and runbooks it wrote, and the task's findings.

Plain data in, plain data out: the flow decides whether the step may publish
(`publish_knowledge`) and writes the passages to the store.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from markdown_it import MarkdownIt

from llmgenie.agents.runner import dedupe_findings
from llmgenie.core.models import Context, FileKind, Finding, Passage, PassageKind
from llmgenie.core.redact import redact

__all__ = ["MAX_DOC_BYTES", "passages_for", "sections"]

#: a target's own doc larger than this is not taught (a generated API dump, a changelog)
MAX_DOC_BYTES = 256 * 1024
_MAX_DOCS = 300
_MAX_FINDINGS = 2_000
_CHUNK = 1_500  # characters per passage: a section longer than this is split
_DOC_SUFFIXES = (".md", ".markdown", ".rst", ".txt")
_HEADINGS = MarkdownIt("commonmark").disable("inline")


def sections(markdown: str, fallback_title: str) -> list[tuple[str, int, str]]:
    """(title, first line 1-based, text) per heading of `markdown`; text before the first
    heading is a section titled `fallback_title`. Headings inside code are not headings."""
    lines = markdown.splitlines()
    tokens = _HEADINGS.parse(markdown)
    starts = [
        (t.map[0], tokens[i + 1].content.strip())
        for i, t in enumerate(tokens)
        if t.type == "heading_open" and t.map is not None
    ]
    if not starts or starts[0][0] > 0:
        starts.insert(0, (0, fallback_title))
    out = []
    for n, (start, title) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        text = "\n".join(lines[start:end]).strip()
        if text:
            out.append((title or fallback_title, start + 1, text))
    return out


def passages_for(
    target: str,
    task_id: str,
    context: Context,
    root: Path,
    catalogue_md: str,
    runbooks: dict[str, str],
    findings: Iterable[Finding],
) -> tuple[list[Passage], list[str]]:
    """The passages to publish about `target`, and notes on what was left out."""
    notes: list[str] = []
    out: list[Passage] = []

    def add(kind: PassageKind, source: str, markdown: str, file: str | None, title: str) -> None:
        for heading, line, text in sections(markdown, title):
            for part, chunk in enumerate(_chunks(text)):
                out.append(
                    Passage(
                        id=_id(target, kind.value, source, f"{line}:{part}"),
                        target=target,
                        kind=kind,
                        source=source,
                        title=heading,
                        text=chunk,
                        file=file,
                        line=line if file else None,
                        task_id=task_id,
                    )
                )

    docs = [
        f
        for f in context.files
        if f.kind is FileKind.doc and f.path.lower().endswith(_DOC_SUFFIXES)
    ]
    for f in docs[:_MAX_DOCS]:
        if f.size > MAX_DOC_BYTES:
            notes.append(f"knowledge: {f.path} not taught ({f.size} bytes, over {MAX_DOC_BYTES})")
            continue
        try:
            text = (root / f.path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            notes.append(f"knowledge: {f.path} not taught: {type(exc).__name__}")
            continue
        # redacted whole, read as the file it is: a secret's context may be lines away
        add(PassageKind.doc, f.path, redact(text, f.path), f.path, Path(f.path).name)
    if len(docs) > _MAX_DOCS:
        notes.append(f"knowledge: {len(docs) - _MAX_DOCS} more docs not taught (max {_MAX_DOCS})")
    if catalogue_md:
        add(PassageKind.catalogue, "catalogue.md", catalogue_md, None, "Service catalogue")
    for service, runbook in sorted(runbooks.items()):
        add(PassageKind.runbook, f"runbooks/{service}.md", runbook, None, f"Runbook: {service}")
    unique = dedupe_findings(findings)  # one per id, worst first: the cap keeps the worst
    out += [_finding_passage(target, task_id, f) for f in unique[:_MAX_FINDINGS]]
    if len(unique) > _MAX_FINDINGS:
        notes.append(f"knowledge: {len(unique) - _MAX_FINDINGS} findings not taught")
    return out, notes


def _finding_passage(target: str, task_id: str, f: Finding) -> Passage:
    parts = [
        f"[{f.severity.value}] {f.title}.",
        f.message,
        f"Where: {f.location}." if f.location else "",
        f"Resource: {f.resource}." if f.resource else "",
        f"Evidence: {f.evidence}." if f.evidence else "",
        f"Fix: {f.remediation}" if f.remediation else "",
        f"Rule {f.rule_id} ({f.category}), reported by {f.agent}.",
    ]
    return Passage(
        id=_id(target, "finding", f.id),
        target=target,
        kind=PassageKind.finding,
        source=f.rule_id,
        title=f.title,
        text=" ".join(p for p in parts if p),
        file=f.file,
        line=f.line,
        task_id=task_id,
    )


def _chunks(text: str) -> list[str]:
    """`text` in pieces of at most ~`_CHUNK` characters, cut between paragraphs where it can."""
    if len(text) <= _CHUNK:
        return [text]
    pieces, current = [], ""
    for para in text.split("\n\n"):
        while len(para) > _CHUNK:  # one paragraph longer than a chunk: cut it
            if current:
                pieces.append(current)
                current = ""
            pieces.append(para[:_CHUNK])
            para = para[_CHUNK:]
        if current and len(current) + 2 + len(para) > _CHUNK:
            pieces.append(current)
            current = para
        else:
            current = f"{current}\n\n{para}" if current else para
    if current:
        pieces.append(current)
    return pieces


def _id(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
