"""What could not be analysed is never silently clean: `ops.not-analysed` findings and the
line that says a target had nothing to analyse.

A file llmgenie recognises (by name, or by the first bytes of its content) that it skipped for
its size, its encoding or a parse error could hide anything: a Dockerfile padded past the size
limit with `USER root` at the end, a privileged Pod in a file that does not parse. Each becomes
one `ops.not-analysed` finding (high, with the reason), so `--fail-on high` fails on it;
`--allow-unanalysed` lets the gate pass over them (they are still reported). Files llmgenie
does not analyse anyway (images, archives, documents, source code) are listed as skipped, as
before, and are not findings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from llmgenie.agents.tools.parsing.base import ParseProblem
from llmgenie.agents.tools.rules import Hit, Rule
from llmgenie.core.context import classify_file
from llmgenie.core.models import FileKind, Finding, Severity, SkippedFile

__all__ = [
    "NOTHING_ANALYSED",
    "NOT_ANALYSED",
    "NOT_ANALYSED_CATEGORY",
    "analysable_kind",
    "nothing_analysed_line",
    "problem_finding",
    "skipped_finding",
]

NOT_ANALYSED_CATEGORY = "ops.not-analysed"
#: Every "nothing analysed" line starts with this (the `run` summary looks for it in notes).
NOTHING_ANALYSED = "nothing analysed:"

#: Kinds llmgenie has rules for: a skipped file of one of these kinds is a finding.
_ANALYSED_KINDS = frozenset(
    {
        FileKind.kubernetes,
        FileKind.kustomization,
        FileKind.helm_chart,
        FileKind.helm_template,
        FileKind.dockerfile,
        FileKind.compose,
        FileKind.terraform,
        FileKind.ci_config,
        FileKind.dependency_manifest,
    }
)
#: Walker reasons that mean "recognisable, but not read": size, encoding, bytes.
_UNREAD = re.compile(r"over the .* per-file limit|binary file|not UTF-8|unreadable")
#: Parse problems that say a document or file is not of the kind, not that it was not read.
_NOT_OF_THE_KIND = re.compile(
    r"^document \d+ (is not a mapping|has no kind)|^no FROM instruction|^no instructions"
)
_SNIFF = 64 * 1024

NOT_ANALYSED: Rule[object] = Rule(
    id="LG-OPS-003",
    category=NOT_ANALYSED_CATEGORY,
    severity=Severity.high,
    agent="security",
    title="File not analysed",
    message=(
        "llmgenie recognises this file but could not analyse it, so whatever it holds was not "
        "checked: a gate that passes here passes blind."
    ),
    remediation=(
        "Fix what stopped the analysis (split an oversized file, re-encode it as UTF-8, fix the "
        "syntax), or pass --allow-unanalysed to let the gate pass over unanalysed files."
    ),
    check=lambda subject, ctx: (),
)


def analysable_kind(root: Path, skipped: SkippedFile) -> FileKind | None:
    """The kind of a file the walker skipped without reading, when llmgenie has rules for it."""
    if not _UNREAD.search(skipped.reason):
        return None  # symlinks out, special files, archives' unsafe members: not target content
    head = b""
    if "binary" not in skipped.reason:
        path = root / skipped.path
        try:
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as fh:
                    head = fh.read(_SNIFF)
        except OSError:
            head = b""
    kind, _ = classify_file(skipped.path, head)
    return kind if kind in _ANALYSED_KINDS else None


def skipped_finding(skipped: SkippedFile, kind: FileKind, agent: str) -> Finding:
    """The `ops.not-analysed` finding for a file of `kind` the walker skipped."""
    return _finding(skipped.path, None, f"{kind.value} file: {skipped.reason}", agent)


def problem_finding(problem: ParseProblem, agent: str) -> Finding | None:
    """The `ops.not-analysed` finding for a file a parser could not read, or None when the
    problem only says a document is not of the kind (a values file, a patch fragment)."""
    if _NOT_OF_THE_KIND.search(problem.reason):
        return None
    return _finding(str(problem.file), problem.line, problem.reason, agent)


def _finding(file: str, line: int | None, reason: str, agent: str) -> Finding:
    f = NOT_ANALYSED.finding(Hit(file=file, line=line, evidence=reason[:200]))
    return f if f.agent == agent else f.model_copy(update={"agent": agent})


def nothing_analysed_line(skipped: Iterable[SkippedFile], limit: int = 5) -> str:
    """One plain line for a target with no file analysed, saying what was skipped."""
    items = list(skipped)
    if not items:
        return f"{NOTHING_ANALYSED} the target holds no file llmgenie can analyse"
    shown = "; ".join(f"{s.path} ({s.reason})" for s in items[:limit])
    more = f"; and {len(items) - limit} more" if len(items) > limit else ""
    return (
        f"{NOTHING_ANALYSED} the target holds no file llmgenie can analyse; "
        f"{len(items)} skipped: {shown}{more}"
    )
