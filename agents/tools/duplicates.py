"""Two definitions of one object are a finding (`ops.duplicate-object`), never resolved silently.

When plain manifests define the same object twice (a real StatefulSet and a `replicas: 0`
placeholder of the same name; two `ServiceAccount default/test` with different settings), what
reaches the cluster depends on the order things are applied. The scan keeps every definition
and the rules check each on its own; this finding names all of them so a person chooses.
Kustomize variants are not duplicates: they are one object in several builds.
"""

from __future__ import annotations

from collections.abc import Iterator

from llmgenie.agents.tools.rules import Hit, Rule
from llmgenie.agents.tools.scanning import Scan
from llmgenie.core.models import Finding, Severity, file_line

__all__ = ["DUPLICATE_OBJECT", "duplicate_findings"]

DUPLICATE_OBJECT: Rule[object] = Rule(
    id="LG-OPS-004",
    category="ops.duplicate-object",
    severity=Severity.medium,
    agent="devops",
    title="Object defined more than once",
    message=(
        "The same object (kind, namespace, name) is defined in more than one place: whichever "
        "is applied last wins, so the cluster may run the other one than the one reviewed."
    ),
    remediation=(
        "Keep one definition (delete the placeholder, or give the objects distinct names or "
        "namespaces)."
    ),
    check=lambda subject, ctx: (),
)


def duplicate_findings(scan: Scan, agent: str) -> Iterator[Finding]:
    """One finding per object defined more than once, at its first definition, naming all."""
    for resource, where in scan.duplicates:
        places = ", ".join(file_line(f, line) or f for f, line in where)
        first_file, first_line = where[0]
        found = DUPLICATE_OBJECT.finding(
            Hit(
                file=first_file,
                line=first_line,
                resource=resource,
                evidence=f"defined {len(where)} times: {places}"[:300],
            )
        )
        yield found if found.agent == agent else found.model_copy(update={"agent": agent})
