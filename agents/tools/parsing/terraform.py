"""Terraform (HCL2) parsing with `python-hcl2`: blocks with addresses and line numbers.

python-hcl2 8.x returns plain data (its `with_meta` option adds no lines yet), so lines come
from the text: a block's `resource "TYPE" "NAME" {` line, its end by brace matching, and an
attribute's or nested block's line searched inside that span. Expressions stay as
`${…}` strings: rules treat them as unknown, never as a value.

A module is a folder: rules that need a sibling resource (a bucket's separate encryption
configuration, account-wide EBS encryption) ask `module_blocks(accepted)`, which parses the
other `.tf` files of the same folder that the walker accepted, once per scan (cached by path,
size and mtime).

Suppression follows `ignore_comments` (`# llmgenie:ignore LG-TF-001` above a block or
attribute; in the leading comment block for the whole file). HCL errors become a
`ParseProblem` with the line when the parser gives one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

from .base import ParseProblem, Subject
from .ignore_comments import IgnoreMap, scan_ignore_comments
from .kubernetes import read_text

__all__ = [
    "MAX_TF_BYTES",
    "TerraformFile",
    "TfBlock",
    "is_expression",
    "parse_terraform",
    "parse_terraform_text",
    "truthy",
]

#: Larger .tf files are generated data; python-hcl2 (lark) parses ~50 KB/s, so this bounds a
#: single file at ~20 s.
MAX_TF_BYTES = 1024 * 1024

_OPTIONS = SerializationOptions(
    strip_string_quotes=True, with_comments=False, preserve_heredocs=False
)
_TWO_LABELS = frozenset({"resource", "data"})
_ONE_LABEL = frozenset({"module", "variable", "output", "provider"})


def is_expression(value: Any) -> bool:
    """A `${…}` expression (variable, function call, conditional): unknown at parse time."""
    return isinstance(value, str) and "${" in value


def truthy(value: Any) -> bool | None:
    """True/False for HCL booleans (also `"true"`); None when unknown or absent."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


@dataclass
class TfBlock:
    """One top-level block (`resource`, `data`, `module`, …) with where it sits in the file."""

    block_type: str
    type: str | None
    name: str
    body: dict[str, Any]
    line: int
    end_line: int
    _file: TerraformFile | None = field(default=None, repr=False, compare=False)
    #: Where a resolved attribute's value is written (`parsing.terraform_resolve`), by path
    #: (`acl`, `ingress[0].cidr_blocks`): file relative to the root and 1-based line.
    origins: dict[str, tuple[str, int]] = field(default_factory=dict, compare=False)
    #: `module.NAME.` when the block comes from a local module evaluated for that call.
    via: str | None = None

    @property
    def address(self) -> str:
        """`aws_s3_bucket.logs`, `data.aws_iam_policy_document.x`, `module.vpc`…"""
        prefix = self.via or ""
        if self.block_type == "resource":
            return f"{prefix}{self.type}.{self.name}"
        if self.block_type == "data":
            return f"{prefix}data.{self.type}.{self.name}"
        return f"{prefix}{self.block_type}.{self.name}"

    def where(self, key: str, nth: int = 0, within: str | None = None) -> tuple[str | None, int]:
        """(file, line) that decides attribute `key`: its resolved origin, else where it is written.

        `within` names the nested block the attribute sits in (`ingress`, the `nth` one)."""
        path = f"{within}[{nth}].{key}" if within else key
        if path in self.origins:
            return self.origins[path]
        file = self._file.file if self._file is not None else None
        if within:
            return file, self.line_of(within, nth)
        return file, self.line_of(key, nth)

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default)

    def nested(self, key: str) -> list[dict[str, Any]]:
        """Nested blocks named `key` (python-hcl2 gives a list, or a dict for one)."""
        value = self.body.get(key)
        if isinstance(value, dict):
            return [value]
        if isinstance(value, list):
            return [v for v in value if isinstance(v, dict)]
        return []

    def line_of(self, key: str, nth: int = 0) -> int:
        """The line of the `nth` attribute or nested block `key` in this block, else the block's."""
        if self._file is None:
            return self.line
        return self._file.find_line(key, self.line, self.end_line, nth)


@dataclass
class TerraformFile(Subject):
    """A parsed `.tf` file; `file` is relative to the scanned root, `path` is on disk."""

    file: str
    blocks: list[TfBlock]
    lines: list[str]
    path: Path | None = None
    ignores: IgnoreMap = field(default_factory=IgnoreMap)

    def resources(self, *types: str) -> Iterator[TfBlock]:
        for b in self.blocks:
            if b.block_type == "resource" and (not types or b.type in types):
                yield b

    def data_sources(self, *types: str) -> Iterator[TfBlock]:
        for b in self.blocks:
            if b.block_type == "data" and (not types or b.type in types):
                yield b

    def module_blocks(self, accepted: Collection[str]) -> list[TfBlock]:
        """Blocks of every `.tf` file in this file's folder (this one included) that the walker
        accepted: `accepted` holds the target-relative paths it listed, so a sibling it skipped
        (a symlink out of the target, a file over the size limit) is never read."""
        if self.path is None:
            return list(self.blocks)
        folder = PurePosixPath(self.file).parent
        out = list(self.blocks)
        siblings = sorted(
            rel
            for rel in accepted
            if rel.endswith(".tf") and rel != self.file and PurePosixPath(rel).parent == folder
        )
        for rel in siblings:
            p = self.path.parent / PurePosixPath(rel).name
            try:
                st = p.stat()
            except OSError:
                continue
            parsed = _cached_parse(str(p), st.st_size, st.st_mtime_ns)
            if isinstance(parsed, TerraformFile):
                out.extend(parsed.blocks)
        return out

    def find_line(self, key: str, start: int, end: int, nth: int = 0) -> int:
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*(=|\{{)")
        seen = 0
        depth_ok = self.lines
        for i in range(start, min(end, len(depth_ok))):
            if pattern.match(depth_ok[i]):
                if seen == nth:
                    return i + 1
                seen += 1
        return start

    def suppressed_ids_for(self, line: int | None) -> frozenset[str]:
        return self.ignores.suppressed_ids_for(line)

    def is_suppressed(self, rule_id: str, line: int | None) -> bool:
        return self.ignores.is_suppressed(rule_id, line)


@lru_cache(maxsize=256)
def _cached_parse(path: str, size: int, mtime_ns: int) -> TerraformFile | ParseProblem:
    return parse_terraform(Path(path), Path(path).name)


def parse_terraform(path: Path, rel: str) -> TerraformFile | ParseProblem:
    """Read and parse one `.tf` file; any problem is returned, never raised."""
    text = read_text(path, rel, max_bytes=MAX_TF_BYTES, kind="Terraform")
    if isinstance(text, ParseProblem):
        return text
    parsed = parse_terraform_text(text, rel)
    if isinstance(parsed, TerraformFile):
        parsed.path = path
    return parsed


def parse_terraform_text(text: str, rel: str) -> TerraformFile | ParseProblem:
    """Parse HCL2 text into blocks; syntax errors are a `ParseProblem` with the line."""
    try:
        if rel.endswith(".tf.json"):
            raw = json.loads(text)
            if not isinstance(raw, dict):
                return ParseProblem(rel, "Terraform JSON is not an object")
            data = {k: v if isinstance(v, list) else [v] for k, v in raw.items()}
        else:
            data = hcl2.loads(text, serialization_options=_OPTIONS)
    except RecursionError:
        return ParseProblem(rel, "HCL nesting too deep")
    except Exception as exc:  # lark raises many error types; all mean "not valid HCL"
        line = getattr(exc, "line", None)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return ParseProblem(
            rel, f"invalid HCL: {first}"[:300], line if isinstance(line, int) else None
        )
    lines = text.splitlines()
    tf = TerraformFile(rel, [], lines, ignores=scan_ignore_comments(lines))
    counters: dict[tuple[str, ...], int] = {}
    for block_type, entries in data.items():
        if not isinstance(entries, list):
            continue
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            for labels, body in _labelled(block_type, entry):
                key = (block_type, *labels)
                nth = counters.get(key, 0)
                counters[key] = nth + 1
                start, end = _block_span(lines, block_type, labels, nth)
                tf.blocks.append(
                    TfBlock(
                        block_type=block_type,
                        type=labels[0] if len(labels) == 2 else None,
                        name=labels[-1] if labels else block_type,
                        body=body,
                        line=start,
                        end_line=end,
                        _file=tf,
                    )
                )
    return tf


def _labelled(
    block_type: str, entry: dict[str, Any]
) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    if block_type in _TWO_LABELS:
        for type_, named in entry.items():
            if isinstance(named, dict):
                for name, body in named.items():
                    if isinstance(body, dict) and not name.startswith("__"):
                        yield (str(type_), str(name)), body
    elif block_type in _ONE_LABEL:
        for name, body in entry.items():
            if isinstance(body, dict) and not name.startswith("__"):
                yield (str(name),), body
    else:
        yield (), entry


def _block_span(
    lines: list[str], block_type: str, labels: tuple[str, ...], nth: int
) -> tuple[int, int]:
    parts = [re.escape(block_type)] + [rf"\"?{re.escape(label)}\"?" for label in labels]
    pattern = re.compile(r"^\s*" + r"\s+".join(parts) + r"\s*\{")
    seen = 0
    for i, text in enumerate(lines):
        if pattern.match(text):
            if seen == nth:
                return i + 1, _block_end(lines, i)
            seen += 1
    return 1, len(lines)


def _block_end(lines: list[str], start: int) -> int:
    """The 1-based line of the brace closing the block opened on 0-based `start`."""
    depth = 0
    heredoc: str | None = None
    for i in range(start, len(lines)):
        line = lines[i]
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        m = re.search(r"<<-?\s*([A-Za-z_][A-Za-z0-9_]*)\s*$", line)
        code = re.sub(r'"(?:\\.|[^"\\])*"', '""', line).split("#", 1)[0].split("//", 1)[0]
        depth += code.count("{") - code.count("}")
        if m:
            heredoc = m.group(1)
        if depth <= 0 and (i > start or ("{" in code and "}" in code)):
            return i + 1
    return len(lines)
