"""The rule catalogue: every registered rule's metadata, for SARIF driver rules and docs."""

from __future__ import annotations

from collections.abc import Iterable

from llmgenie.agents.tools.registry import default_registry
from llmgenie.core.models import AGENT_NAMES
from llmgenie.core.render import RuleMeta

__all__ = ["rule_catalog", "rule_catalog_markdown"]


def rule_catalog(agents: Iterable[str] | None = None) -> list[RuleMeta]:
    """Metadata of every rule the agents (default: all four) registered, sorted by id."""
    wanted = list(agents) if agents is not None else list(AGENT_NAMES)
    seen: dict[str, RuleMeta] = {}
    for ruleset in default_registry().rulesets(wanted):
        for rule in ruleset.rules:
            seen.setdefault(
                rule.id,
                RuleMeta(
                    id=rule.id,
                    category=rule.category,
                    severity=rule.severity,
                    title=rule.title,
                    help=rule.help or rule.message,
                    agent=rule.agent,
                    remediation=rule.remediation,
                    references=tuple(rule.references),
                ),
            )
    return [seen[k] for k in sorted(seen)]


def rule_catalog_markdown(agents: Iterable[str] | None = None) -> str:
    """The catalogue as a Markdown table (for docs)."""
    lines = ["| id | category | severity | title | references |", "|---|---|---|---|---|"]
    for r in rule_catalog(agents):
        refs = ", ".join(r.references).replace("|", "\\|")
        lines.append(f"| {r.id} | {r.category} | {r.severity.value} | {r.title} | {refs} |")
    return "\n".join(lines) + "\n"
