"""Terraform values as Terraform sees them: variables, `*.tfvars`, locals and local module calls.

`parse_resolved(path, rel)` parses one `.tf` file and replaces every attribute that is exactly a
reference (`var.acl`, `local.tags`, also inside lists) with the value that decides it, and
records where that value is written (`TfBlock.origins`, keyed by the attribute's path such as
`acl` or `ingress[0].cidr_blocks`), so a finding points at the default, the tfvars line or the
module call that makes a resource insecure, not at `acl = var.acl`.

Order, as Terraform applies it: a variable's `default`, then other `*.tfvars` files of the
folder (sorted), then `terraform.tfvars`, then `*.auto.tfvars` (sorted); the last one wins.
Locals are followed up to eight references deep. Anything else (functions, conditionals,
interpolated strings, a variable with no value) stays an expression: unknown, never judged.

Only files whose real path stays inside the scanned root are read (a symlink out of the
target is skipped, as the walker skips it); with no root known, only the file itself.

A `module` block whose `source` is a local path inside the scanned root brings the module's
resources in, evaluated with the call's arguments; they are kept only where the call decides a
value (an origin in the calling file), so the module's own files, scanned on their own, are
not reported twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import hcl2

from .base import ParseProblem
from .kubernetes import read_text
from .terraform import (
    _OPTIONS,
    MAX_TF_BYTES,
    TerraformFile,
    TfBlock,
    parse_terraform,
)

__all__ = ["Origin", "parse_resolved", "resolve_file"]

#: A value's source: (file relative to the scanned root, 1-based line).
Origin = tuple[str, int]

_REF = re.compile(r"^\$\{(var|local)\.([A-Za-z0-9_-]+)\}$")
_MAX_DEPTH = 8


@dataclass
class _Scope:
    """What `var.*` and `local.*` mean in one module folder."""

    variables: dict[str, tuple[Any, Origin]] = field(default_factory=dict)
    locals: dict[str, tuple[Any, Origin]] = field(default_factory=dict)


def _rel(root: Path | None, path: Path, fallback: str) -> str:
    if root is None:
        return fallback
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return fallback


def _root_of(path: Path, rel: str) -> Path | None:
    depth = len(Path(rel).parts)
    if depth == 0 or path.parts[-depth:] != Path(rel).parts:
        return None
    return path.parents[depth - 1]


def _line_of_key(lines: list[str], key: str, start: int = 0, end: int | None = None) -> int:
    pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
    for i in range(start, len(lines) if end is None else min(end, len(lines))):
        if pattern.match(lines[i]):
            return i + 1
    return start + 1


def _inside(p: Path, root: Path | None) -> bool:
    """A regular file whose real path stays inside the scanned root (no symlink out of it)."""
    if root is None:
        return False
    try:
        return p.is_file() and p.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def _folder_files(folder: Path, root: Path | None) -> list[Path]:
    try:
        return sorted(p for p in folder.glob("*.tf") if _inside(p, root))
    except OSError:
        return []


def _tfvars_files(folder: Path, root: Path | None) -> list[Path]:
    try:
        found = sorted(p for p in folder.glob("*.tfvars") if _inside(p, root))
    except OSError:
        return []
    auto = [p for p in found if p.name.endswith(".auto.tfvars")]
    main = [p for p in found if p.name == "terraform.tfvars"]
    other = [p for p in found if p not in auto and p not in main]
    return other + main + auto


def _parsed(path: Path, rel: str) -> TerraformFile | ParseProblem:
    try:
        st = path.stat()
    except OSError as exc:
        return ParseProblem(rel, f"cannot read: {exc.strerror}")
    return _cached_parse(str(path), rel, st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _cached_parse(path: str, rel: str, size: int, mtime_ns: int) -> TerraformFile | ParseProblem:
    return parse_terraform(Path(path), rel)


@lru_cache(maxsize=64)
def _cached_tfvars(path: str, rel: str, size: int, mtime_ns: int) -> dict[str, tuple[Any, Origin]]:
    text = read_text(Path(path), rel, max_bytes=MAX_TF_BYTES, kind="Terraform variables")
    if isinstance(text, ParseProblem):
        return {}
    try:
        data = hcl2.loads(text, serialization_options=_OPTIONS)
    except Exception:  # not valid HCL: the values stay unknown
        return {}
    lines = text.splitlines()
    return {
        str(k): (v, (rel, _line_of_key(lines, str(k))))
        for k, v in data.items()
        if not str(k).startswith("__")
    }


def _scope(folder: Path, root: Path | None, inputs: dict[str, tuple[Any, Origin]]) -> _Scope:
    """The folder's variables and locals (cached per folder state), then the call's inputs."""
    stamp = []
    for p in [*_folder_files(folder, root), *_tfvars_files(folder, root)]:
        try:
            st = p.stat()
        except OSError:
            continue
        stamp.append((p.name, st.st_size, st.st_mtime_ns))
    base = _folder_scope(str(folder), str(root) if root else None, tuple(stamp))
    if not inputs:
        return base
    scope = _Scope(dict(base.variables), dict(base.locals))
    scope.variables.update(inputs)
    return scope


@lru_cache(maxsize=128)
def _folder_scope(
    folder_name: str, root_name: str | None, stamp: tuple[tuple[str, int, int], ...]
) -> _Scope:
    folder = Path(folder_name)
    root = Path(root_name) if root_name else None
    scope = _Scope()
    for p in _folder_files(folder, root):
        parsed = _parsed(p, _rel(root, p, p.name))
        if not isinstance(parsed, TerraformFile):
            continue
        for b in parsed.blocks:
            if b.block_type == "variable" and "default" in b.body:
                scope.variables[b.name] = (b.body["default"], (parsed.file, b.line_of("default")))
            elif b.block_type == "locals":
                for key, value in b.body.items():
                    if not key.startswith("__"):
                        line = _line_of_key(parsed.lines, key, b.line - 1, b.end_line)
                        scope.locals[key] = (value, (parsed.file, line))
    for p in _tfvars_files(folder, root):
        try:
            st = p.stat()
        except OSError:
            continue
        scope.variables.update(
            _cached_tfvars(str(p), _rel(root, p, p.name), st.st_size, st.st_mtime_ns)
        )
    return scope


def _resolve(
    value: Any, origin: Origin | None, scope: _Scope, depth: int = 0
) -> tuple[Any, Origin | None]:
    """The value a reference stands for and where it is written; other values unchanged."""
    if depth > _MAX_DEPTH:
        return value, origin
    if isinstance(value, str):
        m = _REF.match(value)
        if m is None:
            return value, origin
        table = scope.variables if m.group(1) == "var" else scope.locals
        if m.group(2) not in table:
            return value, origin
        found, where = table[m.group(2)]
        return _resolve(found, where, scope, depth + 1)
    if isinstance(value, list):
        out: list[Any] = []
        first: Origin | None = None
        for item in value:
            resolved, where = _resolve(item, None, scope, depth + 1)
            if isinstance(item, str) and _REF.match(item) and isinstance(resolved, list):
                out.extend(resolved)  # `[var.cidrs]` is not valid HCL for a list, but `concat` is
            else:
                out.append(resolved)
            first = first or where
        return out, first or origin
    return value, origin


def _resolve_body(
    body: dict[str, Any], scope: _Scope, origins: dict[str, Origin], prefix: str = ""
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in body.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value.get("__is_block__"):
            out[key] = _resolve_body(value, scope, origins, f"{path}[0].")
            continue
        if (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
        ):
            out[key] = [
                _resolve_body(v, scope, origins, f"{path}[{i}].") for i, v in enumerate(value)
            ]
            continue
        resolved, where = _resolve(value, None, scope)
        if where is not None:
            origins[path] = where
        out[key] = resolved
    return out


def _resolved_blocks(tf: TerraformFile, scope: _Scope) -> list[TfBlock]:
    out = []
    for b in tf.blocks:
        origins: dict[str, Origin] = {}
        body = _resolve_body(b.body, scope, origins)
        out.append(replace(b, body=body, origins=origins))
    return out


def _local_module(source: Any, folder: Path, root: Path | None) -> Path | None:
    if root is None or not isinstance(source, str) or not source.startswith(("./", "../")):
        return None
    try:
        target = (folder / source).resolve()
        target.relative_to(root.resolve())
    except (OSError, ValueError):
        return None
    return target if target.is_dir() else None


def resolve_file(
    tf: TerraformFile, path: Path, root: Path | None, seen: tuple[Path, ...] = ()
) -> TerraformFile:
    """`tf` with its references resolved and the resources of its local module calls added."""
    folder = path.parent
    scope = _scope(folder, root, {})
    blocks = _resolved_blocks(tf, scope)
    modules: list[TfBlock] = []
    for call in blocks:
        if call.block_type != "module":
            continue
        target = _local_module(call.get("source"), folder, root)
        if target is None or target in seen or len(seen) >= 4:
            continue
        inputs: dict[str, tuple[Any, Origin]] = {}
        for key, value in call.body.items():
            if key.startswith("__") or key in ("source", "version", "providers", "count"):
                continue
            inputs[key] = (value, call.origins.get(key, (tf.file, call.line_of(key))))
        inner_scope = _scope(target, root, inputs)
        for p in _folder_files(target, root):
            parsed = _parsed(p, _rel(root, p, p.name))
            if not isinstance(parsed, TerraformFile):
                continue
            for b in _resolved_blocks(parsed, inner_scope):
                if b.block_type in ("resource", "data") and any(
                    o[0] == tf.file for o in b.origins.values()
                ):
                    modules.append(replace(b, via=f"{call.address}.", origins=b.origins))
    resolved = replace(tf, blocks=blocks + modules)
    for b in resolved.blocks:
        if b.via is None:
            b._file = resolved
    return resolved


def parse_resolved(path: Path, rel: str) -> TerraformFile | ParseProblem:
    """Parse one `.tf` file and resolve it in its folder (and the root it was scanned from)."""
    parsed = parse_terraform(path, rel)
    if not isinstance(parsed, TerraformFile) or rel.endswith(".tf.json"):
        return parsed
    return resolve_file(parsed, path, _root_of(path, rel))
