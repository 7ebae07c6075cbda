"""The shape of a rule: metadata plus one check function that yields hits.

Every rule of every toolset has the same signature: `check(subject, ctx) -> Iterable[Hit]`,
where `subject` is one parsed object (a Kubernetes object, a Dockerfile, a Terraform file…)
and `ctx` is the scan context built once per target. A `Hit` says where and what; the rule
supplies everything else, so a finding is always complete and consistent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from llmgenie.core.models import Finding, Severity

__all__ = ["Hit", "Rule", "RuleSet"]

S = TypeVar("S")


@dataclass(frozen=True)
class Hit:
    """One place a rule fired. `message` overrides the rule's default message when set."""

    file: str | None
    line: int | None = None
    resource: str | None = None
    evidence: str | None = None
    message: str | None = None
    severity: Severity | None = None
    remediation: str | None = None


@dataclass(frozen=True)
class Rule(Generic[S]):
    id: str
    category: str
    severity: Severity
    agent: str
    title: str
    message: str
    remediation: str
    check: Callable[[S, Any], Iterable[Hit]]
    references: tuple[str, ...] = ()
    help: str = ""

    def run(self, subject: S, ctx: Any) -> Iterator[Finding]:
        for hit in self.check(subject, ctx):
            yield self.finding(hit)

    def finding(self, hit: Hit) -> Finding:
        return Finding(
            rule_id=self.id,
            category=self.category,
            severity=hit.severity or self.severity,
            agent=self.agent,
            title=self.title,
            message=hit.message or self.message,
            file=hit.file,
            line=hit.line,
            resource=hit.resource,
            evidence=hit.evidence,
            remediation=hit.remediation or self.remediation,
            references=list(self.references),
        )


@dataclass
class RuleSet(Generic[S]):
    """An ordered list of rules over one kind of subject; `rule` registers a check."""

    agent: str
    rules: list[Rule[S]] = field(default_factory=list)

    def rule(
        self,
        id: str,
        *,
        category: str,
        severity: Severity,
        title: str,
        message: str,
        remediation: str,
        references: Iterable[str] = (),
        help: str = "",
    ) -> Callable[[Callable[[S, Any], Iterable[Hit]]], Callable[[S, Any], Iterable[Hit]]]:
        def register(check: Callable[[S, Any], Iterable[Hit]]) -> Callable[[S, Any], Iterable[Hit]]:
            if any(r.id == id for r in self.rules):
                raise ValueError(f"duplicate rule id {id}")
            self.rules.append(
                Rule(
                    id=id,
                    category=category,
                    severity=severity,
                    agent=self.agent,
                    title=title,
                    message=message,
                    remediation=remediation,
                    check=check,
                    references=tuple(references),
                    help=help or message,
                )
            )
            return check

        return register

    def run(self, subject: S, ctx: Any) -> Iterator[Finding]:
        for rule in self.rules:
            yield from rule.run(subject, ctx)
