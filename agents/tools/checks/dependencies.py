"""Unpinned dependencies (`ops.unpinned-dependency`) in requirements files and package.json.

What counts as unpinned, and why:

* **pip** (`requirements*.txt`): anything but an exact `==`/`===` version without wildcards —
  bare names, `>=`, `~=`, `<`, `==1.*` — since pip resolves them differently from one day to
  the next; VCS requirements (`git+https://…`) unless they name a full 40-hex commit. Local
  paths (`-e .`), archive URLs and option lines are not dependencies to pin. `*.in` files
  (pip-tools inputs) are meant to be loose and are not judged.
* **npm** (`package.json`, dependencies/devDependencies/optionalDependencies): ranges wider
  than a caret — `*`, `x`, `""`, `latest` or another dist-tag, `>=`/`>` with no upper bound —
  and git/GitHub sources without a commit. `^1.2.3`, `~1.2.3`, `1.x` (a caret by another
  name) and exact versions are accepted: npm's lock file pins within them, and caret is the
  npm default. `peerDependencies` express compatibility ranges on purpose and are not judged.
* **go.mod** needs nothing: every requirement is an exact version, and go.sum pins its hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from llmgenie.core.models import FileKind, Severity

from ..parsing.base import ParseProblem, Subject
from ..parsing.ignore_comments import IgnoreMap, scan_ignore_comments
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = [
    "DEPENDENCY_RULES",
    "Dependency",
    "DependencyManifest",
    "npm_spec_problem",
    "parse_dependency_manifest",
    "pip_requirement_problem",
]

DEPENDENCY_RULES: RuleSet[DependencyManifest] = RuleSet(agent="devops")

_MAX_BYTES = 4 * 1024 * 1024
_COMMIT = re.compile(r"@[0-9a-f]{40}(?:[#&]|$)")
_NPM_COMMIT = re.compile(r"#(?:commit=)?[0-9a-f]{40}$")
_PIP_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(.*)$")
_NPM_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies")


@dataclass
class Dependency:
    name: str
    spec: str
    line: int
    section: str = ""


@dataclass
class DependencyManifest(Subject):
    """Declared dependencies of one manifest file, each with its line."""

    file: str
    ecosystem: str
    dependencies: list[Dependency] = field(default_factory=list)
    ignores: IgnoreMap = field(default_factory=IgnoreMap)

    def suppressed_ids_for(self, line: int | None) -> frozenset[str]:
        return self.ignores.suppressed_ids_for(line)

    def is_suppressed(self, rule_id: str, line: int | None) -> bool:
        return self.ignores.is_suppressed(rule_id, line)


def parse_dependency_manifest(path: Path, rel: str) -> DependencyManifest | ParseProblem | None:
    """Parse requirements*.txt or package.json; None for manifests this module does not judge."""
    name = PurePosixPath(rel).name.lower()
    if name == "package.json":
        ecosystem = "npm"
    elif name.endswith(".txt") and "requirements" in name:
        ecosystem = "pip"
    else:
        return None
    try:
        raw = path.read_bytes()[: _MAX_BYTES + 1]
    except OSError as exc:
        return ParseProblem(rel, f"unreadable: {exc.strerror or exc}")
    if len(raw) > _MAX_BYTES:
        return ParseProblem(rel, "dependency manifest too large")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ParseProblem(rel, f"invalid UTF-8 at byte {exc.start}")
    lines = text.splitlines()
    manifest = DependencyManifest(rel, ecosystem, ignores=scan_ignore_comments(lines))
    if ecosystem == "pip":
        manifest.dependencies = list(_pip_dependencies(lines))
        return manifest
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return ParseProblem(rel, f"invalid JSON: {exc}"[:200])
    if not isinstance(data, dict):
        return ParseProblem(rel, "package.json is not an object")
    manifest.dependencies = list(_npm_dependencies(data, lines))
    return manifest


def _pip_dependencies(lines: list[str]) -> Iterable[Dependency]:
    buffer, start = "", 0
    for i, raw in enumerate(lines):
        if not buffer:
            start = i
        stripped = raw.rstrip()
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        text = (buffer + stripped).strip()
        buffer = ""
        text = re.split(r"(?:^|\s)#", text, maxsplit=1)[0].strip()
        if text:
            m = _PIP_NAME.match(text)
            egg = re.search(r"[#&]egg=([\w.-]+)", text)
            if egg:
                name = egg.group(1)
            elif m and not text.startswith("-"):
                name = m.group(1)
            else:
                name = text.split()[-1]
            yield Dependency(name=name, spec=text, line=start + 1)


def pip_requirement_problem(text: str) -> str | None:
    """Why one requirements line is not pinned, or None (pinned, or not a dependency)."""
    editable = False
    if text.startswith(("-e ", "--editable")):
        editable = True
        text = text.split(None, 1)[1] if " " in text else ""
        text = text.lstrip("=").strip()
    elif text.startswith("-"):
        return None  # options: -r, -c, --index-url, --hash …
    vcs = re.match(r"^(?:[A-Za-z0-9._-]+\s*@\s*)?((?:git|hg|svn|bzr)\+\S+)", text)
    if vcs:
        return None if _COMMIT.search(vcs.group(1)) else "VCS requirement without a commit hash"
    if (
        editable
        or text.startswith((".", "/", "file:"))
        or re.match(r"^\S+\s*@\s*(?:https?|file):", text)
    ):
        return None  # local paths and archive URLs
    if re.match(r"^https?://", text):
        return None
    m = _PIP_NAME.match(text.split(";", 1)[0])
    if m is None:
        return None
    spec = m.group(3).split("--hash")[0].strip()
    if not spec:
        return "no version"
    exact = re.fullmatch(r"===?\s*([^\s,*]+)", spec)
    if exact:
        return None
    return f"version {spec!r} is a range, not a pin"


def _npm_dependencies(data: dict[str, Any], lines: list[str]) -> Iterable[Dependency]:
    for section in _NPM_SECTIONS:
        deps = data.get(section)
        if not isinstance(deps, dict):
            continue
        section_line = _find_line(lines, f'"{section}"', 0)
        for name, spec in deps.items():
            line = _find_line(lines, json.dumps(name), section_line)
            yield Dependency(
                name=str(name),
                spec=str(spec) if spec is not None else "",
                line=line + 1,
                section=section,
            )


def _find_line(lines: list[str], needle: str, start: int) -> int:
    pattern = re.compile(re.escape(needle) + r"\s*:")
    for i in range(start, len(lines)):
        if pattern.search(lines[i]):
            return i
    return start


def npm_spec_problem(spec: str) -> str | None:
    """Why a package.json version spec is wider than a caret range, or None."""
    s = spec.strip()
    if s.startswith(("file:", "link:", "workspace:", "portal:", "patch:")):
        return None
    if s.startswith(("npm:",)):
        _, _, inner = s[4:].rpartition("@")
        return npm_spec_problem(inner)
    if re.match(
        r"^(?:git\+|git:|github:|gitlab:|bitbucket:|https?://)|^[\w.-]+/[\w.-]+(?:#.*)?$", s
    ):
        if re.search(r"\.(?:tgz|tar\.gz)$", s):
            return None
        return None if _NPM_COMMIT.search(s) else "git source without a commit"
    if s in ("", "*", "x", "X"):
        return f"any version ({s or 'empty'})"
    if re.fullmatch(r"[A-Za-z][\w.-]*", s):
        return f"dist-tag {s!r} (moves with every release)"
    for part in s.split("||"):
        p = part.strip()
        if p in ("", "*", "x", "X"):
            return f"range {s!r} allows any version"
        if re.match(r"^>=?\s*[\dv]", p) and not re.search(r"<", p):
            return f"range {s!r} has no upper bound"
    return None


@DEPENDENCY_RULES.rule(
    "LG-DEP-001",
    category="ops.unpinned-dependency",
    severity=Severity.low,
    title="Dependency not pinned",
    message=(
        "This dependency is not pinned to one version (or commit): two builds of the same "
        "commit can install different code, which breaks reproducibility and lets a bad or "
        "malicious release in silently."
    ),
    remediation=(
        "Pin exact versions (`pkg==1.4.2`, with `--hash` via pip-tools/uv lock) or, for npm, "
        "a caret or exact version with a committed lock file; pin VCS sources to a commit."
    ),
    references=["OpenSSF Scorecard Pinned-Dependencies"],
)
def _unpinned(m: DependencyManifest, ctx: Any) -> Iterable[Hit]:
    for dep in m.dependencies:
        problem = (
            pip_requirement_problem(dep.spec)
            if m.ecosystem == "pip"
            else npm_spec_problem(dep.spec)
        )
        if problem is None:
            continue
        evidence = (
            dep.spec if m.ecosystem == "pip" else f'"{dep.name}": "{dep.spec}" ({dep.section})'
        )
        yield Hit(
            file=m.file,
            line=dep.line,
            resource=f"{m.ecosystem}:{dep.name}",
            evidence=f"{evidence[:150]}: {problem}",
        )


def register(registry: Registry) -> None:
    """The `dependencies` group: unpinned or loosely pinned dependencies."""
    registry.parser("dependencies", parse_dependency_manifest, [FileKind.dependency_manifest])
    registry.rules("dependencies", "dependencies", DEPENDENCY_RULES)
