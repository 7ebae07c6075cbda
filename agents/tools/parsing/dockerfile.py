"""Dockerfile parsing: stages, `FROM` images, instructions with line numbers, ignore comments.

Built on `dockerfile-parse` for the line structure (continuations, comments), with what it
leaves out added here: heredocs (`RUN <<EOF … EOF` — the body belongs to the instruction),
instruction flags (`--platform`, `--chown`, `--mount`…), stages and which earlier stage a
`FROM` builds on, image references (registry with a port, tag, digest) and global `ARG`
substitution in `FROM`.

Suppression (`# llmgenie:ignore LG-DOCKER-002,LG-DOCKER-004`):

* in the leading comment block, before the first instruction, or as `# llmgenie:ignore-file …`
  anywhere: for the whole file;
* anywhere else, on a line of its own directly above an instruction (other comment lines may
  sit between, a blank line may not): for that instruction, all of its lines.

A file that cannot be a Dockerfile (binary, invalid UTF-8, only comments, no `FROM`) is a
`ParseProblem` with the reason, never an exception.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser

from .base import ParseProblem, Subject
from .ignore_comments import IgnoreMap, parse_ignore
from .image import ImageRef, parse_image_ref
from .kubernetes import read_text

__all__ = [
    "MAX_DOCKERFILE_BYTES",
    "MAX_DOCKERFILE_LINES",
    "Dockerfile",
    "Instruction",
    "Stage",
    "parse_dockerfile",
    "parse_dockerfile_text",
    "substitute",
]

#: Larger "Dockerfiles" are not Dockerfiles; the context analysis bounds sizes first.
MAX_DOCKERFILE_BYTES = 1024 * 1024
#: dockerfile-parse is quadratic in the length of a continued instruction: bound the lines.
MAX_DOCKERFILE_LINES = 20_000

_KNOWN = frozenset(
    {
        "FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY",
        "ENTRYPOINT", "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL",
        "HEALTHCHECK", "SHELL",
    }
)  # fmt: skip
_HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_FLAG = re.compile(r"--([a-z][a-z0-9-]*)(?:=(\"[^\"]*\"|'[^']*'|\S*))?")
_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def substitute(text: str, values: dict[str, str]) -> tuple[str, bool]:
    """Expand `$X`, `${X}`, `${X:-d}`, `${X:+d}` from `values`; second item: all resolved."""
    resolved = True

    def repl(m: re.Match[str]) -> str:
        nonlocal resolved
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        value = values.get(name)
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                value = word
        elif op in (":+", "+"):
            value = word if value else ""
        if value is None:
            resolved = False
            return m.group(0)
        return value

    return _VAR.sub(repl, text), resolved


@dataclass
class Instruction:
    """One instruction: keyword, its text after the keyword, lines, flags, heredoc bodies."""

    keyword: str
    value: str
    line: int
    end_line: int
    stage: int
    flags: dict[str, str] = field(default_factory=dict)
    args: str = ""
    heredocs: list[str] = field(default_factory=list)

    @property
    def command(self) -> str:
        """For RUN: the shell text, heredoc bodies included (what actually runs)."""
        return "\n".join([self.args, *self.heredocs])

    def json_args(self) -> list[str] | None:
        """The exec form `["a", "b"]` as a list, or None when the shell form is used."""
        text = self.args.strip()
        if not text.startswith("["):
            return None
        try:
            data = json.loads(text)
        except ValueError:
            return None
        return [str(x) for x in data] if isinstance(data, list) else None

    def words(self) -> list[str]:
        """The arguments as words: exec form, else shell-split (falls back to whitespace)."""
        as_json = self.json_args()
        if as_json is not None:
            return as_json
        try:
            return shlex.split(self.args, posix=True)
        except ValueError:
            return self.args.split()


@dataclass
class Stage:
    """One build stage: from `FROM` up to the next `FROM`."""

    index: int
    name: str | None
    base: str
    base_resolved: bool
    line: int
    image: ImageRef | None
    parent_stage: int | None
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, *keywords: str) -> Iterator[Instruction]:
        for ins in self.instructions:
            if ins.keyword in keywords:
                yield ins


@dataclass
class Dockerfile(Subject):
    """A parsed Dockerfile; `file` is relative to the scanned root."""

    file: str
    stages: list[Stage]
    instructions: list[Instruction]
    global_args: dict[str, str]
    ignores: IgnoreMap = field(default_factory=IgnoreMap)

    @property
    def final_stage(self) -> Stage:
        return self.stages[-1]

    def lineage(self, stage: Stage) -> list[Stage]:
        """The stage and the earlier stages it builds on (`FROM <stage>`), nearest first."""
        chain = [stage]
        seen = {stage.index}
        while chain[-1].parent_stage is not None and chain[-1].parent_stage not in seen:
            parent = self.stages[chain[-1].parent_stage]
            seen.add(parent.index)
            chain.append(parent)
        return chain

    def suppressed_ids_for(self, line: int | None) -> frozenset[str]:
        return self.ignores.suppressed_ids_for(line)

    def is_suppressed(self, rule_id: str, line: int | None) -> bool:
        return self.ignores.is_suppressed(rule_id, line)


def _split_flags(value: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = value.lstrip()
    while rest.startswith("--"):
        m = _FLAG.match(rest)
        if m is None:
            break
        raw = m.group(2) or ""
        if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
            raw = raw[1:-1]
        flags[m.group(1)] = raw
        rest = rest[m.end() :].lstrip()
    return flags, rest


def parse_dockerfile(path: Path, rel: str) -> Dockerfile | ParseProblem:
    """Read and parse one Dockerfile; any problem is returned, never raised."""
    text = read_text(path, rel, max_bytes=MAX_DOCKERFILE_BYTES, kind="a Dockerfile")
    if isinstance(text, ParseProblem):
        return text
    return parse_dockerfile_text(text, rel)


def parse_dockerfile_text(text: str, rel: str) -> Dockerfile | ParseProblem:
    """Parse Dockerfile text (see the module docstring for the rules)."""
    if text.count("\n") > MAX_DOCKERFILE_LINES:
        return ParseProblem(
            rel, f"more than {MAX_DOCKERFILE_LINES} lines, not a Dockerfile to lint"
        )
    try:
        structure = DockerfileParser(
            fileobj=io.BytesIO(text.encode("utf-8")), env_replace=False
        ).structure
    except Exception as exc:  # the parser is a third party; its failures are parse problems
        return ParseProblem(rel, f"Dockerfile parser failed: {type(exc).__name__}: {exc}"[:300])
    lines = text.splitlines()
    items = sorted(structure, key=lambda d: d["startline"])
    instructions: list[Instruction] = []
    ignores = IgnoreMap()
    file_ids: set[str] = set()
    pending: set[str] = set()
    pending_end = -1
    consumed_until = -1
    for item in items:
        start, end = item["startline"], item["endline"]
        if start <= consumed_until:
            continue
        keyword = str(item["instruction"]).upper()
        if keyword == "COMMENT":
            found = parse_ignore(item["content"])
            if found is not None:
                ids, whole_file = found
                if whole_file or not instructions:
                    file_ids |= ids
                else:
                    pending |= ids
                    pending_end = end
            continue
        value = item["value"]
        if _continues(lines, start, end):
            # dockerfile-parse stops at a blank line inside a continuation; Docker does not
            extra, end = _continuation(lines, end + 1)
            value = f"{value} {extra}".strip()
        flags, args = _split_flags(value)
        heredocs: list[str] = []
        if keyword in ("RUN", "COPY", "ADD"):
            for m in _HEREDOC.finditer(args):
                body, end = _heredoc_body(lines, end + 1, m.group(3), bool(m.group(1)))
                heredocs.append(body)
            consumed_until = end
        consumed_until = max(consumed_until, end)
        ins = Instruction(keyword, value, start + 1, end + 1, 0, flags, args, heredocs)
        if pending and all(text.strip() for text in lines[pending_end + 1 : start]):
            ignores.add_lines(ins.line, ins.end_line, frozenset(pending))
        pending = set()
        instructions.append(ins)
    ignores.file_ids = frozenset(file_ids)
    known = [i for i in instructions if i.keyword in _KNOWN]
    if not known:
        return ParseProblem(rel, "no instructions (empty, only comments, or not a Dockerfile)")
    return _build(rel, known, ignores)


def _continues(lines: list[str], start: int, end: int) -> bool:
    last = min(end, len(lines) - 1)
    while last > start and not lines[last].strip():
        last -= 1
    return 0 <= last < len(lines) and lines[last].rstrip().endswith("\\")


def _continuation(lines: list[str], first: int) -> tuple[str, int]:
    """The rest of a continued instruction from 0-based `first`, skipping blank and comment
    lines as Docker does; returns its text and the 0-based last line."""
    parts: list[str] = []
    last = first - 1
    for i in range(first, len(lines)):
        text = lines[i].strip()
        if not text or text.startswith("#"):
            continue
        last = i
        if text.endswith("\\"):
            parts.append(text[:-1].strip())
            continue
        parts.append(text)
        break
    return " ".join(parts), max(last, first - 1)


def _heredoc_body(lines: list[str], first: int, word: str, strip_tabs: bool) -> tuple[str, int]:
    """The heredoc's body lines from 0-based `first` up to the terminator; its 0-based line."""
    body: list[str] = []
    for i in range(first, len(lines)):
        candidate = lines[i].lstrip("\t") if strip_tabs else lines[i]
        if candidate.rstrip() == word:
            return "\n".join(body), i
        body.append(lines[i])
    return "\n".join(body), len(lines) - 1


def _build(
    rel: str, instructions: list[Instruction], ignores: IgnoreMap
) -> Dockerfile | ParseProblem:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    names: dict[str, int] = {}
    for ins in instructions:
        if ins.keyword == "FROM":
            stage = _stage(ins, len(stages), global_args, names)
            if stage.name:
                names[stage.name.lower()] = stage.index
            stages.append(stage)
            ins.stage = stage.index
            continue
        if not stages:
            ins.stage = -1
            if ins.keyword == "ARG":
                global_args.update(_arg_defaults(ins))
            continue
        ins.stage = len(stages) - 1
        stages[-1].instructions.append(ins)
    if not stages:
        return ParseProblem(rel, "no FROM instruction, not a Dockerfile")
    kept = [i for i in instructions if i.stage >= 0]
    return Dockerfile(rel, stages, kept, global_args, ignores)


def _arg_defaults(ins: Instruction) -> dict[str, str]:
    out: dict[str, str] = {}
    for word in ins.words():
        name, eq, default = word.partition("=")
        if eq:
            out[name] = default
    return out


def _stage(
    ins: Instruction, index: int, global_args: dict[str, str], names: dict[str, int]
) -> Stage:
    words = ins.args.split()
    base = words[0] if words else ""
    name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
    resolved_base, ok = substitute(base, global_args)
    parent = names.get(resolved_base.lower()) if ok else None
    image = None
    if ok and parent is None and resolved_base and resolved_base.lower() != "scratch":
        image = parse_image_ref(resolved_base)
    return Stage(
        index=index,
        name=name,
        base=resolved_base,
        base_resolved=ok,
        line=ins.line,
        image=image,
        parent_stage=parent,
        platform=ins.flags.get("platform"),
        instructions=[ins],
    )
