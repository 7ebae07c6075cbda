"""The scan engine: runs the registered rule sets and collectors of each agent over a target.

Registration (each toolset module does this at import time; `llmgenie.agents.tools` imports
them all)::

    register("security", "dockerfile", DOCKERFILE_RULES)       # a RuleSet over a subject
    register_parser("dockerfile", parse_dockerfile, kinds=[FileKind.dockerfile])
    register_collector("devops", collect_inventory)            # structured output

Subjects: `"k8s"` (one `K8sObject` per Kubernetes object; built in), `"dockerfile"`,
`"compose"`, `"terraform"`, `"dependencies"` (parsers registered by their modules) and
`"text"` (every text file of the target as a `TextFile`, unless a parser is registered).
A parser is `fn(path: Path, rel: str)` returning a subject, a `ParseProblem` (anything with
`file` and `reason`), or an iterable of either. A subject may define
`is_suppressed(rule_id: str, line: int | None) -> bool`; findings it suppresses are counted,
not reported.

A collector is `fn(inp: ToolsetInput, ctx: ScanContext, findings: list[Finding])` returning a
dict (merged into the agent's `ToolsetResult.output`) or a `ToolsetResult` (findings, output,
notes and skipped files merged).

Two passes: pass 1 indexes every Kubernetes object into the `ScanContext`; pass 2 streams the
files again, one subject at a time, through the rule sets registered for its subject, so
memory does not grow with the size of the documents.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from llmgenie.agents.tools.base import ToolsetInput, ToolsetResult
from llmgenie.agents.tools.kustomize_helm import helm_refusal, kustomize_refusal, render
from llmgenie.agents.tools.parsing.kubernetes import (
    K8sObject,
    ParseProblem,
    iter_k8s_objects,
    iter_k8s_text,
)
from llmgenie.agents.tools.rules import RuleSet
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.core.models import (
    AGENT_NAMES,
    AgentReport,
    Capability,
    Context,
    FileKind,
    Finding,
    ScanResult,
    ScanSummary,
    SkippedFile,
)

__all__ = [
    "SUBJECTS",
    "AgentToolset",
    "Collector",
    "EngineResult",
    "Parser",
    "Progress",
    "Sink",
    "TextFile",
    "iter_k8s_subjects",
    "register",
    "register_collector",
    "register_parser",
    "registered_rulesets",
    "run_engine",
]

Parser = Callable[[Path, str], Any]
Collector = Callable[[ToolsetInput, ScanContext, list[Finding]], "dict[str, Any] | ToolsetResult"]
Progress = Callable[[str, int, int], None]
Sink = Callable[[Finding], None]

#: Subject -> the file kinds it is parsed from (None: every text file of the target).
SUBJECTS: dict[str, tuple[FileKind, ...] | None] = {
    "k8s": (FileKind.kubernetes,),
    "dockerfile": (FileKind.dockerfile,),
    "compose": (FileKind.compose,),
    "terraform": (FileKind.terraform,),
    "dependencies": (FileKind.dependency_manifest,),
    "text": None,
}

_KUSTOMIZE_TIMEOUT = 60.0
_HELM_TIMEOUT = 60.0


@dataclass
class _Registry:
    rulesets: dict[str, dict[str, list[RuleSet[Any]]]] = field(default_factory=dict)
    collectors: dict[str, list[Collector]] = field(default_factory=dict)
    parsers: dict[str, Parser] = field(default_factory=dict)


_REGISTRY = _Registry()


def register(agent: str, subject: str, ruleset: RuleSet[Any]) -> None:
    """Run `ruleset` over every subject of that kind when `agent` runs."""
    if subject not in SUBJECTS:
        raise ValueError(f"unknown subject {subject!r}; known: {', '.join(SUBJECTS)}")
    bucket = _REGISTRY.rulesets.setdefault(agent, {}).setdefault(subject, [])
    if not any(rs is ruleset for rs in bucket):
        bucket.append(ruleset)


def register_collector(agent: str, fn: Collector) -> None:
    """Run `fn` after the rules when `agent` runs; it returns structured output."""
    bucket = _REGISTRY.collectors.setdefault(agent, [])
    if fn not in bucket:
        bucket.append(fn)


def register_parser(subject: str, fn: Parser, kinds: Iterable[FileKind] | None = None) -> None:
    """Parse files of `kinds` (default: the subject's) into subjects with `fn`."""
    if kinds is not None:
        SUBJECTS[subject] = tuple(kinds)
    elif subject not in SUBJECTS:
        raise ValueError(f"unknown subject {subject!r}: pass kinds=")
    _REGISTRY.parsers[subject] = fn


def registered_rulesets(agents: Iterable[str] | None = None) -> list[RuleSet[Any]]:
    """Every registered rule set (of those agents), each once, for the rule catalogue."""
    out: list[RuleSet[Any]] = []
    for agent, by_subject in _REGISTRY.rulesets.items():
        if agents is not None and agent not in agents:
            continue
        for rulesets in by_subject.values():
            out.extend(rs for rs in rulesets if not any(rs is o for o in out))
    return out


@dataclass
class TextFile:
    """The subject of `"text"` rules: one text file of the target."""

    path: Path
    file: str
    kind: FileKind
    _text: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.path.read_text(encoding="utf-8", errors="replace")
        return self._text

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def is_suppressed(self, rule_id: str, line: int | None = None) -> bool:
        return False


@dataclass
class EngineResult:
    """What one engine run gives: each agent's result and the combined scan result."""

    per_agent: dict[str, ToolsetResult]
    scan: ScanResult


def _is_problem(x: Any) -> bool:
    return isinstance(x, ParseProblem) or (
        hasattr(x, "reason") and hasattr(x, "file") and type(x).__name__.endswith("Problem")
    )


def _problem_skip(p: Any) -> SkippedFile:
    line = getattr(p, "line", None)
    where = f" (line {line})" if line else ""
    return SkippedFile(path=str(p.file), reason=f"{p.reason}{where}")


def _under(rel: str, folder: str) -> bool:
    return folder == "" or rel == folder or rel.startswith(folder + "/")


@dataclass
class _Plan:
    """Which Kubernetes sources to read: raw files and rendered kustomizations/charts."""

    raw_files: list[str]
    rendered: list[tuple[str, str]]  # (rel of kustomization.yaml / Chart.yaml, rendered text)
    notes: list[str]
    skipped: list[SkippedFile]
    sources: _SourceMap | None = None


class _SourceMap:
    """Where a rendered object came from: (kind, name) -> raw files and lines, parsed lazily."""

    def __init__(self, root: Path, files: list[str]) -> None:
        self.root = root
        self.index: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self.by_file: dict[str, list[tuple[str, str]]] = {}
        for rel in files:
            for item in iter_k8s_objects(root / rel, rel):
                if isinstance(item, K8sObject):
                    self.index.setdefault((item.kind, item.name), []).append((rel, item.line))
                    self.by_file.setdefault(rel, []).append((item.kind, item.name))
        self._cache: dict[str, dict[int, K8sObject]] = {}
        self._names: dict[str, list[str]] | None = None

    def _names_of(self, kind: str) -> list[str]:
        if self._names is None:
            self._names = {}
            for k, n in self.index:
                if n:
                    self._names.setdefault(k, []).append(n)
        return self._names.get(kind, [])

    def keys_of(self, rel: str) -> list[tuple[str, str]]:
        return self.by_file.get(rel, [])

    def _objects(self, rel: str) -> dict[int, K8sObject]:
        if rel not in self._cache:
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[rel] = {
                o.line: o
                for o in iter_k8s_objects(self.root / rel, rel)
                if isinstance(o, K8sObject)
            }
        return self._cache[rel]

    def locate(self, o: K8sObject, folder: str) -> K8sObject | None:
        """The raw object `o` was rendered from (namePrefix/nameSuffix allowed), if found."""
        found = self.index.get((o.kind, o.name))
        if not found:
            names = [n for n in self._names_of(o.kind) if n in o.name]
            if not names:
                return None
            found = self.index[(o.kind, max(names, key=len))]
        rel, line = sorted(found, key=lambda fl: (not _under(fl[0], folder), fl[0]))[0]
        return self._objects(rel).get(line)


def _produced(key: tuple[str, str], produced: set[tuple[str, str]]) -> bool:
    kind, name = key
    return key in produced or any(k == kind and name and name in n for k, n in produced)


def _plan_k8s(root: Path, context: Context) -> _Plan:
    notes: list[str] = []
    skipped: list[SkippedFile] = []
    covered: list[str] = []
    rendered: list[tuple[str, str]] = []
    kubectl = shutil.which("kubectl")
    kustomizations = sorted(
        context.files_of(FileKind.kustomization), key=lambda f: (f.path.count("/"), f.path)
    )
    for kf in kustomizations:
        folder = str(PurePosixPath(kf.path).parent)
        folder = "" if folder == "." else folder
        if any(_under(folder, c) for c in covered):
            continue
        label = folder or "."
        if kubectl is None:
            notes.append(f"kustomize folder {label}: kubectl not on PATH, raw files scanned")
            continue
        refusal = kustomize_refusal(root, folder)
        if refusal is not None:
            notes.append(f"kustomize folder {label}: not rendered: {refusal}; raw files scanned")
            continue
        text, err = render([kubectl, "kustomize", str(root / folder)], _KUSTOMIZE_TIMEOUT)
        if text is None:
            notes.append(
                f"kustomize folder {label}: kubectl kustomize failed ({err}); raw files scanned"
            )
            continue
        notes.append(f"kustomize folder {label}: rendered with kubectl kustomize")
        covered.append(folder)
        rendered.append((kf.path, text))
    helm = shutil.which("helm")
    charts: list[str] = []
    for cf in context.files_of(FileKind.helm_chart):
        folder = str(PurePosixPath(cf.path).parent)
        folder = "" if folder == "." else folder
        charts.append(folder)
        label = folder or "."
        if helm is None:
            skipped.append(
                SkippedFile(path=cf.path, reason="Helm chart not analysed: helm not on PATH")
            )
            notes.append(f"Helm chart {label}: not analysed (helm not on PATH)")
            continue
        refusal = helm_refusal(root, folder)
        if refusal is not None:
            skipped.append(SkippedFile(path=cf.path, reason=f"Helm chart not rendered: {refusal}"))
            notes.append(f"Helm chart {label}: not analysed ({refusal})")
            continue
        text, err = render([helm, "template", "llmgenie", str(root / folder)], _HELM_TIMEOUT)
        if text is None:
            skipped.append(SkippedFile(path=cf.path, reason=f"helm template failed: {err}"))
            notes.append(f"Helm chart {label}: not analysed (helm template failed)")
            continue
        notes.append(f"Helm chart {label}: rendered with helm template")
        rendered.append((cf.path, text))
    for tf in context.files_of(FileKind.helm_template):
        skipped.append(
            SkippedFile(
                path=tf.path, reason="Helm template: not plain YAML, analysed only rendered"
            )
        )
    sources = (
        _SourceMap(root, [f.path for f in context.files_of(FileKind.kubernetes)])
        if rendered
        else None
    )
    produced: set[tuple[str, str]] = set()
    for _, text in rendered:
        produced.update(
            (o.kind, o.name) for o in iter_k8s_text(text, "") if isinstance(o, K8sObject)
        )
    raw = []
    for f in context.files_of(FileKind.kubernetes):
        if any(_under(f.path, c) for c in charts):
            continue
        if any(_under(f.path, c) for c in covered) and sources is not None:
            # Inside a rendered kustomization: skip files whose objects the rendering used
            # (resources, patches); scan the ones it left out (e.g. a commented-out resource).
            keys = sources.keys_of(f.path)
            if not keys or any(_produced(k, produced) for k in keys):
                continue
            notes.append(f"{f.path}: not part of any kustomization output, scanned raw")
        raw.append(f.path)
    return _Plan(raw_files=raw, rendered=rendered, notes=notes, skipped=skipped, sources=sources)


def iter_k8s_subjects(
    root: Path, context: Context, plan: _Plan | None = None
) -> Iterator[K8sObject | ParseProblem]:
    """Every Kubernetes object of the target: raw files, then rendered kustomizations/charts."""
    plan = plan or _plan_k8s(root, context)
    for rel in plan.raw_files:
        yield from iter_k8s_objects(root / rel, rel)
    for rel, text in plan.rendered:
        folder = str(PurePosixPath(rel).parent)
        folder = "" if folder == "." else folder
        for item in iter_k8s_text(text, rel):
            if isinstance(item, K8sObject):
                # Lines of rendered output point nowhere in the target: use the raw source's
                # lines (paths a patch added fall back to their nearest raw ancestor), else
                # the kustomization file itself.
                raw = plan.sources.locate(item, folder) if plan.sources else None
                if raw is not None:
                    item.file, item.line, item._node = raw.file, raw.line, raw._node
                else:
                    item.line, item._node = 1, None
            yield item


def _iter_subjects(root: Path, context: Context, subject: str) -> Iterator[tuple[str, Any]]:
    kinds = SUBJECTS.get(subject)
    files = context.files if kinds is None else context.files_of(*kinds)
    parser = _REGISTRY.parsers.get(subject)
    for cf in files:
        if parser is None:
            if subject == "text":
                yield cf.path, TextFile(path=root / cf.path, file=cf.path, kind=cf.kind)
            continue
        try:
            result = parser(root / cf.path, cf.path)
        except Exception as exc:  # one bad file never loses the rest of the scan
            yield cf.path, ParseProblem(cf.path, f"parser failed: {type(exc).__name__}: {exc}")
            continue
        if result is None:
            continue
        if _is_problem(result) or not isinstance(result, (list, tuple, Iterator)):
            yield cf.path, result
        else:
            for item in result:
                yield cf.path, item


class _Runner:
    def __init__(self, agents: list[str], ctx: ScanContext, sink: Sink | None = None) -> None:
        self.agents = agents
        self.ctx = ctx
        self.sink = sink
        self.results = {a: ToolsetResult() for a in agents}
        self.seen: set[str] = set()
        self.errors: dict[str, str] = {}
        self.by_severity: dict[str, int] = {}
        self.by_category: dict[str, int] = {}

    def run(self, subject_kind: str, subject: Any) -> None:
        for agent in self.agents:
            for ruleset in _REGISTRY.rulesets.get(agent, {}).get(subject_kind, []):
                for rule in ruleset.rules:
                    try:
                        found = list(rule.run(subject, self.ctx))
                    except Exception as exc:
                        self.errors.setdefault(rule.id, f"{type(exc).__name__}: {exc}"[:200])
                        continue
                    for f in found:
                        self._add(agent, subject, f)

    def _add(self, agent: str, subject: Any, f: Finding) -> None:
        check = getattr(subject, "is_suppressed", None)
        if check is not None and check(f.rule_id, f.line):
            self.results[agent].suppressed += 1
            return
        if f.id in self.seen:
            return
        self.seen.add(f.id)
        self.by_severity[f.severity.value] = self.by_severity.get(f.severity.value, 0) + 1
        self.by_category[f.category] = self.by_category.get(f.category, 0) + 1
        if self.sink is not None:
            self.sink(f)  # streamed out, not held
        else:
            self.results[agent].findings.append(f)


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
) -> EngineResult:
    """Scan `root` (analysed as `context`) with the rule sets and collectors of `agents`.

    With a `sink`, every finding is handed to it as it is found and none is kept: the result
    then carries counts but no findings (and collectors see no findings), so memory stays flat
    however large the target.
    """
    agent_list = list(agents) if agents is not None else list(AGENT_NAMES)
    root = Path(root)
    ctx = ScanContext(root=root, settings=dict(settings or {}))
    plan = _plan_k8s(root, context)
    notes = list(plan.notes)
    skipped: list[SkippedFile] = list(context.skipped) + list(plan.skipped)
    wanted = {s for a in agent_list for s in _REGISTRY.rulesets.get(a, {})}
    total = len(context.files)

    # pass 1: the cross-resource index
    for item in iter_k8s_subjects(root, context, plan):
        if isinstance(item, K8sObject):
            ctx.index(item)
    if progress:
        progress("index", 0, total)

    runner = _Runner(agent_list, ctx, sink)
    scanned: set[str] = set()
    done = 0
    # pass 2: stream subjects through the rule sets
    if "k8s" in wanted:
        for item in iter_k8s_subjects(root, context, plan):
            if isinstance(item, ParseProblem):
                skipped.append(_problem_skip(item))
                continue
            if item.file not in scanned:
                scanned.add(item.file)
                done += 1
                if progress and done % 50 == 0:
                    progress("scan", done, total)
            runner.run("k8s", item)
    for subject in SUBJECTS:
        if subject == "k8s" or subject not in wanted:
            continue
        if subject != "text" and subject not in _REGISTRY.parsers:
            notes.append(f"no parser registered for {subject!r} files; their rules did not run")
            continue
        for rel, item in _iter_subjects(root, context, subject):
            if _is_problem(item):
                skipped.append(_problem_skip(item))
                continue
            if rel not in scanned:
                scanned.add(rel)
                done += 1
                if progress and done % 50 == 0:
                    progress("scan", done, total)
            runner.run(subject, item)
    if progress:
        progress("scan", total, total)
    for rule_id, err in sorted(runner.errors.items()):
        notes.append(f"rule {rule_id} failed on some subjects: {err}")

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
        for fn in _REGISTRY.collectors.get(agent, []):
            name = getattr(fn, "__qualname__", repr(fn))
            try:
                out = fn(inp, ctx, all_findings)
            except Exception as exc:
                res.notes.append(f"collector {name} failed: {type(exc).__name__}: {exc}"[:300])
                continue
            if isinstance(out, ToolsetResult):
                for f in out.findings:
                    runner._add(agent, None, f)
                res.output.update(out.output)
                res.notes.extend(out.notes)
                res.skipped.extend(out.skipped)
                res.suppressed += out.suppressed
            elif isinstance(out, dict):
                res.output.update(out)
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
    """One agent's toolset: its registered rule sets and collectors, run by the engine."""

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
