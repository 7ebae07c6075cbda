"""`# llmgenie:ignore LG-…` comments: which rule ids a comment suppresses, and on which lines.

One convention for every `#`-commented format (Dockerfile, compose YAML, Terraform HCL, and
plain text for secrets):

* A comment in the file's **leading comment block** (before the first line of content)
  suppresses its ids for the **whole file**. So does `# llmgenie:ignore-file LG-…` anywhere.
* A comment on a line of its own elsewhere, directly above (no blank line between), suppresses
  its ids for the **next content line and the block under it**: the lines that follow it with
  deeper indentation (a compose service, a Terraform block) — the Dockerfile parser gives the
  next *instruction* instead, continuation lines included.
* A trailing comment (`privileged: true  # llmgenie:ignore LG-COMPOSE-001`) suppresses its
  ids on that line.

Ids are separated by commas or spaces; `*` or `all` suppresses every rule, as the Kubernetes
annotation `llmgenie.io/ignore` does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["ALL", "IgnoreMap", "parse_ignore", "scan_ignore_comments"]

#: The marker meaning "every rule".
ALL = "*"

_IGNORE = re.compile(
    r"(?:#|//)\s*llmgenie:ignore(?P<file>-file)?\b[ \t:=]*(?P<ids>[A-Za-z0-9_*,\- \t]*)"
)
_SPLIT = re.compile(r"[\s,]+")


def parse_ignore(comment: str) -> tuple[frozenset[str], bool] | None:
    """The ids a comment names and whether it is file-wide (`ignore-file`); None if none."""
    m = _IGNORE.search(comment)
    if m is None:
        return None
    ids = {p.strip().upper() for p in _SPLIT.split(m.group("ids")) if p.strip()}
    if "ALL" in ids:
        ids = {ALL}
    if not ids:
        return None
    return frozenset(ids), bool(m.group("file"))


@dataclass
class IgnoreMap:
    """Suppressed rule ids: for the whole file, and per 1-based line."""

    file_ids: frozenset[str] = frozenset()
    line_ids: dict[int, frozenset[str]] = field(default_factory=dict)

    def add_lines(self, first: int, last: int, ids: frozenset[str]) -> None:
        for line in range(first, last + 1):
            self.line_ids[line] = self.line_ids.get(line, frozenset()) | ids

    def suppressed_ids_for(self, line: int | None) -> frozenset[str]:
        """Every id suppressed at this line (file-wide ids included)."""
        if line is None:
            return self.file_ids
        return self.file_ids | self.line_ids.get(line, frozenset())

    def is_suppressed(self, rule_id: str, line: int | None) -> bool:
        ids = self.suppressed_ids_for(line)
        return ALL in ids or rule_id.upper() in ids


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _is_comment(stripped: str) -> bool:
    return stripped.startswith(("#", "//"))


def scan_ignore_comments(lines: Sequence[str]) -> IgnoreMap:
    """Apply the indentation convention of the module docstring to a file's lines."""
    out = IgnoreMap()
    file_ids: set[str] = set()
    seen_content = False
    pending: set[str] = set()
    n = len(lines)
    for i, raw in enumerate(lines):
        stripped = raw.strip()
        if not stripped:
            pending = set()  # a blank line detaches the comment from what follows
            continue
        if _is_comment(stripped):
            found = parse_ignore(stripped)
            if found is None:
                continue
            ids, whole_file = found
            if whole_file or not seen_content:
                file_ids |= ids
            else:
                pending |= ids
            continue
        seen_content = True
        found = parse_ignore(raw) if "llmgenie:ignore" in raw else None
        if found is not None:
            ids, whole_file = found
            if whole_file:
                file_ids |= ids
            else:
                out.add_lines(i + 1, i + 1, ids)
        if pending:
            base = _indent(raw)
            last = i
            for j in range(i + 1, n):
                nxt = lines[j]
                if not nxt.strip():
                    continue
                if _indent(nxt) <= base and not _is_comment(nxt.strip()):
                    break
                last = j
            out.add_lines(i + 1, last + 1, frozenset(pending))
            pending = set()
    out.file_ids = frozenset(file_ids)
    return out
