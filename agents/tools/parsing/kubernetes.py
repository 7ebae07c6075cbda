"""Kubernetes YAML/JSON parsing: objects with line numbers, pod specs and containers.

Documents are composed with PyYAML's C loader and constructed here from the node graph, so
every key path keeps its line and hostile input is bounded: libyaml caps nesting at 1,000
levels, and construction caps depth and node count (an alias bomb stops at the cap instead
of expanding to billions of nodes). Every problem becomes a `ParseProblem` and the rest of
the file goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from .base import ParseProblem, Subject

__all__ = [
    "IGNORE_ANNOTATION",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_NODES",
    "POD_BEARING_KINDS",
    "ContainerRef",
    "K8sObject",
    "containers",
    "iter_k8s_objects",
    "iter_k8s_text",
    "iter_yaml_documents",
    "pod_spec",
    "pod_template_metadata",
    "runtime_containers",
    "yaml_child",
]

#: Deepest nesting constructed; real manifests stay far below.
MAX_DEPTH = 200
#: Most nodes constructed per document (aliases count each time they expand).
MAX_NODES = 500_000
#: Largest file read; the context analysis skips bigger ones already, this is a second guard.
MAX_FILE_BYTES = 64 * 1024 * 1024

#: The annotation naming rule ids to suppress on an object (or its pod template).
IGNORE_ANNOTATION = "llmgenie.io/ignore"
_ID_SPLIT = re.compile(r"[\s,]+")

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"

#: Kinds whose objects carry a pod spec, and the key path to it.
POD_BEARING_KINDS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
    # not core, but pod templates all the same (OpenShift, Argo Rollouts)
    "DeploymentConfig": ("spec", "template", "spec"),
    "Rollout": ("spec", "template", "spec"),
}

_CONTAINER_LISTS: tuple[
    tuple[str, Literal["container", "initContainer", "ephemeralContainer"]], ...
] = (
    ("initContainers", "initContainer"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeralContainer"),
)


@dataclass
class K8sObject(Subject):
    """One Kubernetes object as written in a file, with the line of every key path."""

    obj: dict[str, Any]
    file: str
    line: int
    api_version: str
    kind: str
    name: str
    namespace: str | None
    _node: Node | None = field(default=None, repr=False, compare=False)
    #: The Kustomize entry point or chart whose rendering gave this object (None: as written).
    variant: str | None = field(default=None, compare=False)
    #: For a rendered object: the raw object its `_node` (and so its lines) belongs to. A line
    #: is given only where the rendered object still holds what that raw line says.
    _raw: dict[str, Any] | None = field(default=None, repr=False, compare=False)

    @property
    def resource(self) -> str:
        """`Kind/namespace/name`; the namespace is empty when the manifest sets none."""
        return f"{self.kind}/{self.namespace or ''}/{self.name}"

    @property
    def metadata(self) -> dict[str, Any]:
        md = self.obj.get("metadata")
        return md if isinstance(md, dict) else {}

    @property
    def suppressed_ids(self) -> frozenset[str]:
        """Rule ids named by the ignore annotation on the object or its pod template."""
        ids: set[str] = set()
        for md in (self.metadata, pod_template_metadata(self)):
            ann = md.get("annotations")
            if isinstance(ann, dict):
                raw = ann.get(IGNORE_ANNOTATION)
                if isinstance(raw, str):
                    ids.update(p.strip().upper() for p in _ID_SPLIT.split(raw) if p.strip())
        return frozenset(ids)

    def is_suppressed(self, rule_id: str, line: int | None = None) -> bool:
        """True when the ignore annotation names this rule id (or `*` / `all`)."""
        ids = self.suppressed_ids
        return bool(ids) and (rule_id.upper() in ids or "*" in ids or "ALL" in ids)

    def line_of(self, *path: str | int) -> int | None:
        """The 1-based line of a key path, e.g. `("spec", "template", "spec")`; None if absent."""
        node = self._node
        if node is None:
            return None
        line = self.line
        rendered: Any = self.obj
        raw: Any = self._raw
        for step in path:
            found = _child(node, step)
            if found is None:
                return None
            if raw is not None:
                rendered, raw = _step(rendered, step), _step(raw, step)
                if not _same_place(rendered, raw, step):
                    return None  # an overlay or patch changed or removed it: not this line
            line, node = found
        return line

    def line_near(self, *path: str | int) -> int:
        """The line of the path, else of its deepest present ancestor, else the object's."""
        for n in range(len(path), 0, -1):
            line = self.line_of(*path[:n])
            if line is not None:
                return line
        return self.line


_MISSING = object()


def _step(value: Any, step: str | int) -> Any:
    if isinstance(value, dict) and isinstance(step, str):
        return value.get(step, _MISSING)
    if isinstance(value, list) and isinstance(step, int) and 0 <= step < len(value):
        return value[step]
    return _MISSING


def _same_place(rendered: Any, raw: Any, step: str | int) -> bool:
    """Whether a raw line still describes the rendered value: both present; a scalar equal;
    a named list item (a container) the same name."""
    if rendered is _MISSING or raw is _MISSING:
        return False
    if isinstance(raw, dict) and isinstance(rendered, dict):
        return raw.get("name") == rendered.get("name") if isinstance(step, int) else True
    if isinstance(raw, (dict, list)) or isinstance(rendered, (dict, list)):
        return type(raw) is type(rendered)
    return bool(raw == rendered)


@dataclass
class ContainerRef:
    """A container of a pod spec, and where it sits in its object."""

    container: dict[str, Any]
    kind: Literal["container", "initContainer", "ephemeralContainer"]
    path: tuple[str | int, ...]

    @property
    def name(self) -> str:
        name = self.container.get("name")
        return str(name) if name is not None else f"{self.kind}[{self.path[-1]}]"


def _child(node: Node, step: str | int) -> tuple[int, Node] | None:
    if isinstance(node, MappingNode):
        want = str(step)
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == want:
                return key.start_mark.line + 1, value
        for key, value in node.value:  # keys inherited through `<<` merges
            if key.tag == _MERGE_TAG:
                for src in value.value if isinstance(value, SequenceNode) else [value]:
                    found = _child(src, step)
                    if found is not None:
                        return found
        return None
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        item = node.value[step]
        return item.start_mark.line + 1, item
    return None


class _TooBig(Exception):
    pass


class _Builder:
    """Constructs Python data from a composed node graph, bounded in depth and size."""

    _scalars = SafeConstructor()

    def __init__(self) -> None:
        self.count = 0
        self.active: set[int] = set()

    def build(self, node: Node, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(f"more than {MAX_NODES} nodes (alias expansion bomb?)")
        if depth > MAX_DEPTH:
            raise _TooBig(f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, ScalarNode):
            return self._scalar(node)
        key = id(node)
        if key in self.active:
            raise _TooBig("recursive alias")
        self.active.add(key)
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, depth + 1) for item in node.value]
            if isinstance(node, MappingNode):
                return self._mapping(node, depth)
            return None
        finally:
            self.active.discard(key)

    def _mapping(self, node: MappingNode, depth: int) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        merged: list[dict[Any, Any]] = []
        for k, v in node.value:
            if k.tag == _MERGE_TAG:
                sources = v.value if isinstance(v, SequenceNode) else [v]
                for src in sources:
                    built = self.build(src, depth + 1)
                    if isinstance(built, dict):
                        merged.append(built)
                continue
            key = self.build(k, depth + 1)
            try:
                hash(key)
            except TypeError:
                key = str(key)
            out[key] = self.build(v, depth + 1)
        for src in merged:
            for mk, mv in src.items():
                out.setdefault(mk, mv)
        return out

    def _scalar(self, node: ScalarNode) -> Any:
        ctor = SafeConstructor.yaml_constructors.get(node.tag)
        if ctor is None or node.tag == _STR_TAG:
            return node.value
        try:
            return ctor(self._scalars, node)
        except Exception:
            return node.value


def yaml_child(node: Node | None, step: str | int) -> tuple[int, Node] | None:
    """The child of a YAML node by key or index, with the 1-based line it starts on."""
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(step):
                return key.start_mark.line + 1, value
        return None
    if isinstance(node, SequenceNode) and isinstance(step, int) and 0 <= step < len(node.value):
        item = node.value[step]
        return item.start_mark.line + 1, item
    return None


def iter_yaml_documents(text: str, rel: str) -> Iterator[tuple[Any, Node] | ParseProblem]:
    """Each document of a YAML stream as `(data, root node)`, or a problem; bounded."""
    loader = _Loader(text)
    try:
        while True:
            try:
                if not loader.check_node():
                    break
                node = loader.get_node()
            except yaml.MarkedYAMLError as exc:
                mark = exc.problem_mark or exc.context_mark
                yield ParseProblem(
                    rel,
                    f"malformed YAML: {exc.problem or exc.context or 'parse error'}",
                    mark.line + 1 if mark else None,
                )
                return
            except (yaml.YAMLError, RecursionError, MemoryError) as exc:
                yield ParseProblem(rel, f"malformed YAML: {type(exc).__name__}: {exc}"[:300])
                return
            if node is None:
                continue
            try:
                data = _Builder().build(node)
            except _TooBig as exc:
                yield ParseProblem(rel, str(exc), node.start_mark.line + 1)
                continue
            except RecursionError:
                yield ParseProblem(rel, "nesting too deep", node.start_mark.line + 1)
                continue
            yield data, node
    finally:
        loader.dispose()


def read_text(
    path: Path, rel: str, *, max_bytes: int | None = None, kind: str | None = None
) -> str | ParseProblem:
    """A file as UTF-8 text within a size cap, or the problem that stopped it (never raises).

    Shared by every parser: `kind` ("a Dockerfile", …) ends each reason, so a skipped file says
    what it was read as.
    """
    not_kind = f", not {kind}" if kind else ""
    max_bytes = MAX_FILE_BYTES if max_bytes is None else max_bytes
    try:
        size = path.stat().st_size
        if size > max_bytes:
            return ParseProblem(rel, f"file too large ({size} bytes > {max_bytes}){not_kind}")
        data = path.read_bytes()
    except OSError as exc:
        return ParseProblem(rel, f"unreadable: {exc.strerror or exc}")
    if b"\x00" in data[:8192]:
        return ParseProblem(rel, f"binary file{not_kind}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return ParseProblem(rel, f"invalid UTF-8 at byte {exc.start}{not_kind}")


def _object(data: dict[str, Any], node: Node | None, rel: str, line: int) -> K8sObject:
    md = data.get("metadata")
    md = md if isinstance(md, dict) else {}
    ns = md.get("namespace")
    name = md.get("name") or md.get("generateName") or ""
    return K8sObject(
        obj=data,
        file=rel,
        line=line,
        api_version=str(data.get("apiVersion") or ""),
        kind=str(data["kind"]),
        name=str(name),
        namespace=str(ns) if ns not in (None, "") else None,
        _node=node,
    )


def _objects_of(
    data: Any, node: Node | None, rel: str, index: int
) -> Iterator[K8sObject | ParseProblem]:
    line = node.start_mark.line + 1 if node is not None else 1
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "empty"
        yield ParseProblem(rel, f"document {index + 1} is not a mapping ({kind})", line)
        return
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind:
        yield ParseProblem(rel, f"document {index + 1} has no kind", line)
        return
    items = data.get("items")
    if kind.endswith("List") and isinstance(items, list):
        items_node = _child(node, "items") if node is not None else None
        for i, item in enumerate(items):
            item_node = None
            if items_node is not None:
                found = _child(items_node[1], i)
                item_node = found[1] if found else None
            yield from _objects_of(item, item_node, rel, i)
        return
    yield _object(data, node, rel, line)


def iter_k8s_objects(path: Path, rel: str) -> Iterator[K8sObject | ParseProblem]:
    """Every Kubernetes object of a YAML or JSON file (multi-document, `List`s flattened)."""
    text = read_text(path, rel)
    if isinstance(text, ParseProblem):
        yield text
        return
    yield from iter_k8s_text(text, rel)


def iter_k8s_text(text: str, rel: str) -> Iterator[K8sObject | ParseProblem]:
    """As `iter_k8s_objects`, over text already read (e.g. `kubectl kustomize` output)."""
    index = 0
    for item in iter_yaml_documents(text, rel):
        if isinstance(item, ParseProblem):
            if rel.endswith(".json") and item.reason.startswith("malformed YAML"):
                yield from _json_fallback(text, rel, item)
                return
            yield item
            continue
        data, node = item
        if data is None:  # an empty document (a stray `---`, only comments)
            continue
        yield from _objects_of(data, node, rel, index)
        index += 1


def _json_fallback(
    text: str, rel: str, problem: ParseProblem
) -> Iterator[K8sObject | ParseProblem]:
    # JSON that YAML 1.1 rejects (tabs, some escapes): parse as JSON, lines unknown.
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        yield ParseProblem(rel, f"malformed JSON: {exc}"[:300], problem.line)
        return
    yield from _objects_of(data, None, rel, 0)


def pod_spec(o: K8sObject) -> tuple[dict[str, Any], tuple[str | int, ...]] | None:
    """The pod spec of a pod-bearing object and its key path, or None."""
    path = POD_BEARING_KINDS.get(o.kind)
    if path is None:
        return None
    cur: Any = o.obj
    for step in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(step)
    if not isinstance(cur, dict):
        return None
    return cur, path


def pod_template_metadata(o: K8sObject) -> dict[str, Any]:
    """The metadata of the pod an object creates (the object's own for a Pod)."""
    path = POD_BEARING_KINDS.get(o.kind)
    if path is None:
        return {}
    cur: Any = o.obj
    for step in (*path[:-1], "metadata"):
        if not isinstance(cur, dict):
            return {}
        cur = cur.get(step)
    return cur if isinstance(cur, dict) else {}


def containers(o: K8sObject) -> Iterator[ContainerRef]:
    """Init, regular and ephemeral containers of a pod-bearing object."""
    found = pod_spec(o)
    if found is None:
        return
    spec, path = found
    for key, kind in _CONTAINER_LISTS:
        items = spec.get(key)
        if not isinstance(items, list):
            continue
        for i, c in enumerate(items):
            if isinstance(c, dict):
                yield ContainerRef(container=c, kind=kind, path=(*path, key, i))


def runtime_containers(o: K8sObject) -> Iterator[ContainerRef]:
    """The containers that actually run and take requests and limits (ephemeral ones cannot)."""
    return (c for c in containers(o) if c.kind != "ephemeralContainer")
