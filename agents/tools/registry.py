"""What the engine runs: rule groups, parsers and collectors, and which agent runs which.

Nothing registers itself on import. Each module of `llmgenie.agents.tools.checks` has one
`register(registry)` function that adds its rule groups (and the parsers of their subjects);
`checks.register_all` calls them in one explicit list, in the style of kube-score's
`Register(allChecks)`. The agent specs (`agents/specs/*.yaml`) say which groups and collectors
each agent runs (`rule_groups:`, `collectors:`); `default_registry()` puts both together.

A group holds rule sets over subjects: `"k8s"` (one `K8sObject` per Kubernetes object, built
in), `"text"` (every text file as a `TextFile`, built in), and whatever a parser is registered
for (`"dockerfile"`, `"compose"`, `"terraform"`, `"dependencies"`). A parser is
`fn(path, rel)` returning a `Subject`, a `ParseProblem`, an iterable of either, or None.
A collector is `fn(inp, scan, findings) -> ToolsetResult`: structured output from the scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmgenie.agents.tools.rules import RuleSet
from llmgenie.core.models import FileKind, Finding

if TYPE_CHECKING:
    from llmgenie.agents.tools.base import ToolsetInput, ToolsetResult
    from llmgenie.agents.tools.scanning import Scan

__all__ = ["Collector", "Parser", "Registry", "default_registry"]

Parser = Callable[[Path, str], Any]
Collector = Callable[["ToolsetInput", "Scan", list[Finding]], "ToolsetResult"]


@dataclass
class _Assignment:
    groups: list[str] = field(default_factory=list)
    collectors: list[str] = field(default_factory=list)


@dataclass
class Registry:
    """Rule groups by name, parsers by subject, collectors by name, and each agent's share."""

    #: group -> subject -> rule sets
    groups: dict[str, dict[str, list[RuleSet[Any]]]] = field(default_factory=dict)
    #: subject -> the file kinds it is parsed from (None: every text file of the target)
    subjects: dict[str, tuple[FileKind, ...] | None] = field(
        default_factory=lambda: {"k8s": (FileKind.kubernetes,), "text": None}
    )
    parsers: dict[str, Parser] = field(default_factory=dict)
    collectors: dict[str, Collector] = field(default_factory=dict)
    agents: dict[str, _Assignment] = field(default_factory=dict)

    def rules(self, group: str, subject: str, ruleset: RuleSet[Any]) -> None:
        """Add `ruleset` (over subjects of that kind) to `group`."""
        if subject not in self.subjects:
            raise ValueError(
                f"unknown subject {subject!r}: register its parser first; "
                f"known: {', '.join(self.subjects)}"
            )
        bucket = self.groups.setdefault(group, {}).setdefault(subject, [])
        if not any(rs is ruleset for rs in bucket):
            bucket.append(ruleset)

    def parser(self, subject: str, fn: Parser, kinds: Iterable[FileKind]) -> None:
        """Parse files of `kinds` into `subject`s with `fn` (one parser per subject)."""
        known = self.parsers.get(subject)
        if known is not None and known is not fn:
            raise ValueError(f"subject {subject!r} already has a parser: {known.__qualname__}")
        self.subjects[subject] = tuple(kinds)
        self.parsers[subject] = fn

    def collector(self, name: str, fn: Collector) -> None:
        """Make `fn` available to agents under `name`."""
        self.collectors[name] = fn

    def assign(
        self, agent: str, groups: Iterable[str] = (), collectors: Iterable[str] = ()
    ) -> None:
        """Let `agent` run these rule groups and collectors (names must be registered)."""
        groups, collectors = list(groups), list(collectors)
        unknown = [g for g in groups if g not in self.groups]
        if unknown:
            raise ValueError(
                f"agent {agent!r}: unknown rule group(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(self.groups))}"
            )
        missing = [c for c in collectors if c not in self.collectors]
        if missing:
            raise ValueError(
                f"agent {agent!r}: unknown collector(s) {', '.join(missing)}; "
                f"known: {', '.join(sorted(self.collectors))}"
            )
        self.agents[agent] = _Assignment(groups, collectors)

    def rulesets_of(self, agent: str) -> dict[str, list[RuleSet[Any]]]:
        """subject -> the rule sets `agent` runs over it, in group order."""
        out: dict[str, list[RuleSet[Any]]] = {}
        for group in self.agents.get(agent, _Assignment()).groups:
            for subject, rulesets in self.groups[group].items():
                bucket = out.setdefault(subject, [])
                bucket.extend(rs for rs in rulesets if not any(rs is o for o in bucket))
        return out

    def collectors_of(self, agent: str) -> list[tuple[str, Collector]]:
        return [(n, self.collectors[n]) for n in self.agents.get(agent, _Assignment()).collectors]

    def rulesets(self, agents: Iterable[str] | None = None) -> list[RuleSet[Any]]:
        """Every rule set the agents run (all registered ones by default), each once."""
        if agents is None:
            pools = [rs for by_subject in self.groups.values() for rs in by_subject.values()]
        else:
            pools = [rs for a in agents for rs in self.rulesets_of(a).values()]
        out: list[RuleSet[Any]] = []
        for rulesets in pools:
            out.extend(rs for rs in rulesets if not any(rs is o for o in out))
        return out


@lru_cache(maxsize=1)
def default_registry() -> Registry:
    """Every rule group and collector of the product, assigned as the packaged specs say."""
    from llmgenie.agents.specs import SpecError, load_specs
    from llmgenie.agents.tools.checks import register_all
    from llmgenie.agents.tools.collectors import register_collectors

    registry = Registry()
    register_all(registry)
    register_collectors(registry)
    for spec in load_specs().values():
        try:
            registry.assign(spec.name, spec.rule_groups, spec.collectors)
        except ValueError as exc:
            raise SpecError(f"agent spec {spec.name}.yaml: {exc}") from exc
    return registry
