"""GitHub Actions workflow parsing: triggers, jobs and steps with line numbers.

A workflow file (`.github/workflows/*.yml`) becomes one `Workflow`; other CI files the context
analysis classifies as `ci_config` (GitLab, Jenkins, …) are not parsed (None). The YAML goes
through `parsing.kubernetes.iter_yaml_documents` (C loader, depth and alias caps), as compose
files do. YAML 1.1 reads the key `on` as the boolean true; the parser takes either.

Suppression follows `ignore_comments`: `# llmgenie:ignore LG-CI-001` above a step (or a key)
covers the block under it; in the leading comment block, the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node, ScalarNode

from .base import ParseProblem, Subject
from .ignore_comments import IgnoreMap, scan_ignore_comments
from .kubernetes import iter_yaml_documents, read_text, yaml_child

__all__ = [
    "MAX_WORKFLOW_BYTES",
    "Job",
    "Step",
    "Workflow",
    "is_workflow_path",
    "parse_workflow",
    "parse_workflow_text",
]

#: Largest workflow file read.
MAX_WORKFLOW_BYTES = 4 * 1024 * 1024

_WORKFLOW_PATH = re.compile(r"(?:^|/)\.github/workflows/[^/]+\.ya?ml$")


def is_workflow_path(rel: str) -> bool:
    """True for a GitHub Actions workflow file (`.github/workflows/<name>.yml`)."""
    return bool(_WORKFLOW_PATH.search(rel.replace("\\", "/")))


def _walk(node: Node | None, line: int, path: tuple[str | int, ...]) -> tuple[int, Node | None]:
    for step in path:
        found = yaml_child(node, step)
        if found is None:
            return line, None
        line, node = found
    return line, node


@dataclass
class _Located:
    """A mapping of the workflow and its node, so rules can ask for the line of any key."""

    body: dict[str, Any]
    line: int
    _node: Node | None = field(default=None, repr=False, compare=False)

    def line_of(self, *path: str | int) -> int:
        """Line of a key path inside (deepest present part), else this mapping's own line."""
        return _walk(self._node, self.line, path)[0]

    def text_line(self, key: str, needle: str) -> int:
        """The line inside the string value of `key` where `needle` first appears."""
        line, node = _walk(self._node, self.line, (key,))
        if not isinstance(node, ScalarNode) or not isinstance(node.value, str):
            return line
        for i, text in enumerate(node.value.splitlines()):
            if needle in text:
                # a block scalar (| or >) starts on the line after its indicator
                return node.start_mark.line + 1 + i + (1 if node.style in ("|", ">") else 0)
        return line


@dataclass
class Step(_Located):
    """One step of a job: `uses:` an action, or `run:` a script."""

    index: int = 0

    @property
    def uses(self) -> str | None:
        value = self.body.get("uses")
        return value.strip() if isinstance(value, str) else None

    @property
    def run(self) -> str | None:
        value = self.body.get("run")
        return value if isinstance(value, str) else None

    @property
    def with_(self) -> dict[str, Any]:
        value = self.body.get("with")
        return value if isinstance(value, dict) else {}


@dataclass
class Job(_Located):
    """One job: its id, its steps (or the reusable workflow it `uses:`)."""

    id: str = ""
    steps: list[Step] = field(default_factory=list)


@dataclass
class Workflow(Subject):
    """A parsed GitHub Actions workflow."""

    file: str
    data: dict[str, Any]
    triggers: frozenset[str]
    jobs: list[Job]
    ignores: IgnoreMap = field(default_factory=IgnoreMap)
    _node: Node | None = field(default=None, repr=False, compare=False)

    def line_of(self, *path: str | int) -> int:
        return _walk(self._node, 1, path)[0]

    def is_suppressed(self, rule_id: str, line: int | None = None) -> bool:
        return self.ignores.is_suppressed(rule_id, line)


def _triggers(data: dict[str, Any]) -> frozenset[str]:
    on = data.get("on", data.get(True))
    if isinstance(on, str):
        return frozenset({on})
    if isinstance(on, list):
        return frozenset(str(t) for t in on)
    if isinstance(on, dict):
        return frozenset(str(t) for t in on)
    return frozenset()


def parse_workflow(path: Path, rel: str) -> Workflow | ParseProblem | None:
    """Read and parse one workflow file; None for CI files that are not GitHub workflows."""
    if not is_workflow_path(rel):
        return None
    text = read_text(path, rel, max_bytes=MAX_WORKFLOW_BYTES, kind="a GitHub Actions workflow")
    if isinstance(text, ParseProblem):
        return text
    return parse_workflow_text(text, rel)


def parse_workflow_text(text: str, rel: str) -> Workflow | ParseProblem:
    """Parse workflow YAML; anything that is not a mapping with `jobs` is a `ParseProblem`."""
    data: Any = None
    node: Node | None = None
    for item in iter_yaml_documents(text, rel):
        if isinstance(item, ParseProblem):
            return item
        if data is not None:
            return ParseProblem(rel, "more than one YAML document in a workflow file")
        data, node = item
    if not isinstance(data, dict) or not isinstance(data.get("jobs"), dict):
        return ParseProblem(rel, "not a GitHub Actions workflow (no `jobs` mapping)")
    out = Workflow(rel, data, _triggers(data), [], ignores=scan_ignore_comments(text.splitlines()))
    out._node = node
    jobs_line, jobs_node = _walk(node, 1, ("jobs",))
    for job_id, body in data["jobs"].items():
        found = yaml_child(jobs_node, str(job_id))
        job = Job(
            body if isinstance(body, dict) else {},
            found[0] if found else jobs_line,
            found[1] if found else None,
            id=str(job_id),
        )
        steps = job.body.get("steps")
        steps_node = yaml_child(job._node, "steps")
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            at = yaml_child(steps_node[1], i) if steps_node else None
            job.steps.append(
                Step(
                    step if isinstance(step, dict) else {},
                    at[0] if at else job.line,
                    at[1] if at else None,
                    index=i,
                )
            )
        out.jobs.append(job)
    return out
