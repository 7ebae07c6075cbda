"""The scan engine: runs each agent's rule groups and collectors over the one scan of a target.

The scan (`llmgenie.agents.tools.scanning.build_scan`) is built once per target content: Kustomize
and Helm rendered, every Kubernetes object parsed and indexed. The engine streams its subjects
through the rule sets of the agents' groups (the registry says which, from the agent specs),
then runs the agents' collectors over the same scan. A subject may define
`is_suppressed(rule_id, line)`; findings it suppresses are counted, not reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmgenie.agents.tools.base import ToolsetInput, ToolsetResult
from llmgenie.agents.tools.duplicates import duplicate_findings
from llmgenie.agents.tools.parsing.base import ParseProblem, Subject
from llmgenie.agents.tools.parsing.kubernetes import K8sObject
from llmgenie.agents.tools.parsing.text import TextFile
from llmgenie.agents.tools.registry import Registry, default_registry
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.agents.tools.scanning import K8S_FILE_KINDS, Scan, build_scan
from llmgenie.agents.tools.unanalysed import (
    analysable_kind,
    nothing_analysed_line,
    problem_finding,
    skipped_finding,
)
from llmgenie.core.models import (
    AGENT_NAMES,
    AgentReport,
    Capability,
    Context,
    FileKind,
    Finding,
    FindingLocation,
    ScanResult,
    ScanSummary,
    SkippedFile,
)

__all__ = ["AgentToolset", "EngineResult", "Progress", "Sink", "run_engine"]

Progress = Callable[[str, int, int], None]
Sink = Callable[[Finding], None]


@dataclass
class EngineResult:
    """What one engine run gives: each agent's result and the combined scan result."""

    per_agent: dict[str, ToolsetResult]
    scan: ScanResult


def _problem_skip(p: ParseProblem) -> SkippedFile:
    where = f" (line {p.line})" if p.line else ""
    return SkippedFile(path=str(p.file), reason=f"{p.reason}{where}")


def _iter_subjects(
    scan: Scan, context: Context, registry: Registry, subject: str
) -> Iterator[tuple[str, Subject | ParseProblem]]:
    kinds = registry.subjects.get(subject)
    files = context.files if kinds is None else context.files_of(*kinds)
    parser = registry.parsers.get(subject)
    for cf in files:
        if parser is None:  # the built-in "text" subject: every file, read when a rule asks
            yield cf.path, TextFile(path=scan.root / cf.path, file=cf.path, kind=cf.kind)
            continue
        for item in scan.parsed(subject, cf.path, parser):
            yield cf.path, item


class _Runner:
    def __init__(
        self,
        agents: list[str],
        rulesets: dict[str, dict[str, list[Any]]],
        ctx: ScanContext,
        sink: Sink | None = None,
    ) -> None:
        self.agents = agents
        self.rulesets = rulesets
        self.ctx = ctx
        self.sink = sink
        self.results = {a: ToolsetResult() for a in agents}
        self.seen: set[str] = set()
        self.merged: dict[tuple[str, str, str | None, str | None], Finding] = {}
        self.errors: dict[str, str] = {}
        self.by_severity: dict[str, int] = {}
        self.by_category: dict[str, int] = {}

    def run(self, subject_kind: str, subject: Subject) -> None:
        for agent in self.agents:
            for ruleset in self.rulesets[agent].get(subject_kind, []):
                for rule in ruleset.rules:
                    try:
                        found = list(rule.run(subject, self.ctx))
                    except Exception as exc:
                        self.errors.setdefault(rule.id, f"{type(exc).__name__}: {exc}"[:200])
                        continue
                    for f in found:
                        self.add(agent, subject, f)

    def add(self, agent: str, subject: Subject | None, f: Finding) -> None:
        if subject is not None and subject.is_suppressed(f.rule_id, f.line):
            self.results[agent].suppressed += 1
            return
        if isinstance(subject, K8sObject) and f.file and f.resource:
            # One issue, one finding: the same rule, object and evidence in several rendered
            # variants (or a rendered variant and a generated copy of the same install) is one
            # finding listing every place and variant.
            variant = subject.variant
            key = (agent, f.rule_id, f.resource, f.evidence)
            first = self.merged.get(key)
            if first is not None:
                _merge(first, f.file, f.line, variant)
                return
            _merge(f, f.file, f.line, variant)
            self.merged[key] = f
        if f.id in self.seen:
            return
        self.seen.add(f.id)
        self.by_severity[f.severity.value] = self.by_severity.get(f.severity.value, 0) + 1
        self.by_category[f.category] = self.by_category.get(f.category, 0) + 1
        if self.sink is not None:
            self.sink(f)  # streamed out, not held
        else:
            self.results[agent].findings.append(f)


def _merge(f: Finding, file: str, line: int | None, variant: str | None) -> None:
    """Record one more place and variant of `f` (each once); None is a file as written."""
    place = FindingLocation(file=file, line=line, variant=variant)
    if place not in f.locations:
        f.locations.append(place)
    if variant is not None and variant not in f.variants:
        f.variants.append(variant)


def _sort_key(f: Finding) -> tuple[str, int, str, str]:
    return (f.file or "", f.line or 0, f.rule_id, f.id)


def run_engine(
    root: Path,
    context: Context,
    agents: Iterable[str] | None = None,
    *,
    prior_reports: Iterable[AgentReport] = (),
    capabilities: frozenset[Capability] = frozenset({Capability.read_target}),
    settings: dict[str, Any] | None = None,
    progress: Progress | None = None,
    sink: Sink | None = None,
    registry: Registry | None = None,
) -> EngineResult:
    """Scan `root` (analysed as `context`) with the rule groups and collectors of `agents`.

    With a `sink`, every finding is handed to it as it is found and none is kept: the result
    then carries counts but no findings (and collectors see no findings), so memory stays flat
    however large the target.
    """
    agent_list = list(agents) if agents is not None else list(AGENT_NAMES)
    registry = registry or default_registry()
    root = Path(root)
    scan = build_scan(root, context)
    notes = list(scan.notes)
    skipped: list[SkippedFile] = list(context.skipped) + list(scan.skipped)
    rulesets = {a: registry.rulesets_of(a) for a in agent_list}
    wanted = {s for by_subject in rulesets.values() for s in by_subject}
    total = len(context.files)
    if progress:
        progress("index", 0, total)

    runner = _Runner(agent_list, rulesets, scan.index, sink)

    def reads(agent: str, kind: FileKind) -> bool:
        for subject in rulesets[agent]:
            kinds = K8S_FILE_KINDS if subject == "k8s" else registry.subjects.get(subject)
            if kinds is None or kind in kinds:
                return True
        return False

    # What could not be analysed is a finding of the first agent that would have read it.
    for item in context.skipped:
        kind = analysable_kind(root, item)
        owner = next((a for a in agent_list if kind and reads(a, kind)), None)
        if kind is not None and owner is not None:
            runner.add(owner, None, skipped_finding(item, kind, owner))

    def unanalysed(subject: str, problem: ParseProblem) -> None:
        owner = next((a for a in agent_list if subject in rulesets[a]), None)
        found = problem_finding(problem, owner) if owner else None
        if owner is not None and found is not None:
            runner.add(owner, None, found)

    scanned: set[str] = set()
    done = 0

    def count(rel: str) -> None:
        nonlocal done
        if rel not in scanned:
            scanned.add(rel)
            done += 1
            if progress and done % 50 == 0:
                progress("scan", done, total)

    owner = next((a for a in agent_list if "k8s" in rulesets[a]), None)
    if owner is not None:  # two definitions of one object: one finding naming both
        for found in duplicate_findings(scan, owner):
            runner.add(owner, None, found)
    if "k8s" in wanted:
        skipped.extend(_problem_skip(p) for p in scan.k8s_problems)
        for p in scan.k8s_problems:
            unanalysed("k8s", p)
        for o in scan.k8s_objects():
            count(o.file)
            runner.run("k8s", o)
    for subject in registry.subjects:
        if subject == "k8s" or subject not in wanted:
            continue
        for rel, item in _iter_subjects(scan, context, registry, subject):
            if isinstance(item, ParseProblem):
                skipped.append(_problem_skip(item))
                unanalysed(subject, item)
                continue
            count(rel)
            runner.run(subject, item)
    if progress:
        progress("scan", total, total)
    for rule_id, err in sorted(runner.errors.items()):
        notes.append(f"rule {rule_id} failed on some subjects: {err}")
    if not context.files:  # the walker accepted nothing: empty, all binary, all too large…
        notes.append(nothing_analysed_line(_dedupe_skipped(skipped)))

    for f in runner.merged.values():
        if f.variants:
            f.variants_total = scan.renders
        elif len(f.locations) < 2:
            f.locations = []  # one object as written: its file and line say it all
    all_findings = [f for r in runner.results.values() for f in r.findings]
    inp = ToolsetInput(
        root=root,
        context=context,
        prior_reports=list(prior_reports),
        capabilities=capabilities,
        settings=dict(settings or {}),
    )
    for agent in agent_list:
        res = runner.results[agent]
        for name, fn in registry.collectors_of(agent):
            try:
                out = fn(inp, scan, all_findings)
            except Exception as exc:
                res.notes.append(f"collector {name} failed: {type(exc).__name__}: {exc}"[:300])
                continue
            for f in out.findings:
                runner.add(agent, None, f)
            res.output.update(out.output)
            res.notes.extend(out.notes)
            res.skipped.extend(out.skipped)
            res.suppressed += out.suppressed
        res.findings.sort(key=_sort_key)
        res.files_scanned = len(scanned)
        res.notes = notes + res.notes
        res.skipped = _dedupe_skipped(skipped + res.skipped)

    findings = sorted((f for r in runner.results.values() for f in r.findings), key=_sort_key)
    summary = ScanSummary(
        files_scanned=len(scanned),
        by_severity=dict(sorted(runner.by_severity.items())),
        by_category=dict(sorted(runner.by_category.items())),
        suppressed=sum(r.suppressed for r in runner.results.values()),
        skipped=_dedupe_skipped(skipped + [s for r in runner.results.values() for s in r.skipped]),
        notes=notes + [n for r in runner.results.values() for n in r.notes if n not in notes],
    )
    return EngineResult(
        per_agent=runner.results, scan=ScanResult(findings=findings, summary=summary)
    )


def _dedupe_skipped(items: list[SkippedFile]) -> list[SkippedFile]:
    seen: set[tuple[str, str]] = set()
    out: list[SkippedFile] = []
    for s in items:
        key = (s.path, s.reason)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


@dataclass
class AgentToolset:
    """One agent's toolset: the rule groups and collectors its spec names, run by the engine."""

    name: str

    def run(self, inp: ToolsetInput) -> ToolsetResult:
        result = run_engine(
            inp.root,
            inp.context,
            [self.name],
            prior_reports=inp.prior_reports,
            capabilities=inp.capabilities,
            settings=inp.settings,
        )
        return result.per_agent[self.name]
