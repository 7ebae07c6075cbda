"""The scan of a target, built once: Kustomize and Helm rendered, every object parsed and indexed.

`build_scan(root, context)` plans the Kubernetes sources (raw manifests, kustomizations and
charts), renders the kustomizations and charts (independent ones in parallel, bounded by the
cores), parses the rendered output once, maps each rendered object back to the raw file and
line it came from, and indexes every object into a `ScanContext`. Every rule and every
collector (inventory, patches, catalogue, Prometheus) of every agent reads that one `Scan`, so
they all describe the same objects.

The builder is memoised per process by the content of what it reads: a digest of the path,
size, modification time (and, for files up to `_HASHED_BYTES`, the contents) of every file under
the target, of the Kubernetes files the context lists and of the renderers on PATH. The
specialists of one task running in one process build it once; a worker elsewhere builds its
own. Raw manifests are parsed again on each pass over them (their objects are not held, so
memory stays flat however many there are); rendered objects, which cost a subprocess and a
source map, are parsed once and held.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from llmgenie.agents.tools.helm_render import NOT_ANALYSED, render_chart
from llmgenie.agents.tools.kustomize_helm import (
    helm_refusal,
    kustomization_parts,
    kustomize_refusal,
    render,
)
from llmgenie.agents.tools.parsing.base import ParseProblem, Subject
from llmgenie.agents.tools.parsing.kubernetes import (
    K8sObject,
    containers,
    iter_k8s_objects,
    iter_k8s_text,
)
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.core.models import Context, FileKind, SkippedFile

__all__ = ["K8S_FILE_KINDS", "Scan", "build_scan", "clear_scan_cache"]

#: The file kinds the Kubernetes part of a scan reads.
K8S_FILE_KINDS = (
    FileKind.kubernetes,
    FileKind.kustomization,
    FileKind.helm_chart,
    FileKind.helm_template,
)

_KUSTOMIZE_TIMEOUT = 60.0
_HELM_TIMEOUT = 60.0
#: Files up to this size have their contents in the memo key, not only their size and mtime.
_HASHED_BYTES = 256 * 1024
#: Scans kept per process (a task's specialists share one; a second task may overlap).
_KEEP = 2


def _under(rel: str, folder: str) -> bool:
    return folder == "" or rel == folder or rel.startswith(folder + "/")


def _folder_of(rel: str) -> str:
    folder = str(PurePosixPath(rel).parent)
    return "" if folder == "." else folder


@dataclass
class Scan:
    """Everything the rules and collectors of every agent read about one target."""

    root: Path
    #: The cross-resource index over every Kubernetes object (rules get it as `ctx`).
    index: ScanContext
    #: Raw manifest files scanned as written (outside any rendered kustomization or chart).
    raw_files: list[str]
    #: Objects of the rendered kustomizations and charts, located in their raw files.
    rendered: list[K8sObject]
    #: Problems reading the raw manifests (reported by agents that run Kubernetes rules).
    k8s_problems: list[ParseProblem]
    notes: list[str]
    skipped: list[SkippedFile]
    #: Kustomizations and charts rendered (by `kubectl kustomize` / `helm template`).
    renders: int = 0
    #: Objects defined more than once in plain manifests: (resource, [(file, line), …]).
    duplicates: list[tuple[str, list[tuple[str, int]]]] = field(default_factory=list)
    _subjects: dict[tuple[str, str], list[Subject | ParseProblem]] = field(
        default_factory=dict, repr=False
    )

    def k8s_objects(self) -> Iterator[K8sObject]:
        """Every Kubernetes object of the target: raw files, then rendered ones."""
        for rel in self.raw_files:
            for item in iter_k8s_objects(self.root / rel, rel):
                if isinstance(item, K8sObject):
                    yield item
        yield from self.rendered

    def parsed(
        self, subject: str, rel: str, parser: Callable[[Path, str], Any]
    ) -> list[Subject | ParseProblem]:
        """What `parser` makes of one file, parsed once per scan (every agent shares it)."""
        key = (subject, rel)
        found = self._subjects.get(key)
        if found is None:
            found = _parse(parser, self.root / rel, rel)
            self._subjects[key] = found
        return found


def _parse(
    parser: Callable[[Path, str], Any], path: Path, rel: str
) -> list[Subject | ParseProblem]:
    try:
        result = parser(path, rel)
    except Exception as exc:  # one bad file never loses the rest of the scan
        return [ParseProblem(rel, f"parser failed: {type(exc).__name__}: {exc}")]
    if result is None:
        return []
    items = [result] if isinstance(result, (Subject, ParseProblem)) else result
    if not isinstance(items, (list, tuple, Iterator)):
        items = [items]
    return [
        item
        if isinstance(item, (Subject, ParseProblem))
        else ParseProblem(rel, f"parser gave a {type(item).__name__}, not a subject")
        for item in items
    ]


# -- the memo ------------------------------------------------------------------------------


@dataclass
class _Slot:
    lock: threading.Lock = field(default_factory=threading.Lock)
    scan: Scan | None = None


_CACHE: OrderedDict[tuple[str, str], _Slot] = OrderedDict()
_CACHE_LOCK = threading.Lock()


def clear_scan_cache() -> None:
    """Forget every memoised scan (tests that count renders start from here)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def build_scan(root: Path, context: Context) -> Scan:
    """The scan of `root` as analysed in `context`: built once per content, then shared.

    Concurrent callers for the same content wait for the one build instead of rendering again.
    """
    root = Path(root)
    key = (str(root.resolve()), _digest(root, context))
    with _CACHE_LOCK:
        slot = _CACHE.get(key)
        if slot is None:
            slot = _CACHE[key] = _Slot()
        _CACHE.move_to_end(key)
        while len(_CACHE) > _KEEP:
            _CACHE.popitem(last=False)
    with slot.lock:
        if slot.scan is None:
            slot.scan = _build(root, context)
        return slot.scan


def _digest(root: Path, context: Context) -> str:
    h = hashlib.blake2b(digest_size=20)
    for name in ("kubectl", "helm"):
        h.update(f"{name}={shutil.which(name)}\0".encode())
    for f in sorted(context.files_of(*K8S_FILE_KINDS), key=lambda f: f.path):
        h.update(f"k8s {f.path} {f.kind.value}\0".encode())
    top = root.resolve()
    for here, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            path = Path(here) / name
            try:
                st = path.lstat()
            except OSError:
                continue
            rel = path.relative_to(top).as_posix()
            h.update(f"{rel} {st.st_size} {st.st_mtime_ns}\0".encode())
            if st.st_size <= _HASHED_BYTES and path.is_file() and not path.is_symlink():
                with contextlib.suppress(OSError):
                    h.update(path.read_bytes())
    return h.hexdigest()


# -- building ------------------------------------------------------------------------------


@dataclass
class _Render:
    rel: str  # of the kustomization file or Chart.yaml
    text: str | None
    note: str
    skipped: SkippedFile | None = None


def _render_kustomization(root: Path, kubectl: str | None, rel: str) -> _Render:
    folder = _folder_of(rel)
    label = folder or "."
    if kustomization_parts(root, rel).component:
        return _Render(
            rel,
            None,
            f"kustomize folder {label}: a Component, analysed in the kustomizations that "
            "include it",
        )
    if kubectl is None:
        return _Render(
            rel, None, f"kustomize folder {label}: kubectl not on PATH, raw files scanned"
        )
    refusal = kustomize_refusal(root, folder)
    if refusal is not None:
        return _Render(
            rel, None, f"kustomize folder {label}: not rendered: {refusal}; raw files scanned"
        )
    text, err = render([kubectl, "kustomize", str(root / folder)], _KUSTOMIZE_TIMEOUT)
    if text is None:
        return _Render(
            rel,
            None,
            f"kustomize folder {label}: kubectl kustomize failed ({err}); raw files scanned",
        )
    return _Render(rel, text, f"kustomize folder {label}: rendered with kubectl kustomize")


def _render_chart(root: Path, helm: str | None, rel: str) -> _Render:
    folder = _folder_of(rel)
    label = folder or "."
    refusal = helm_refusal(root, folder)
    if refusal is not None:
        return _Render(
            rel,
            None,
            f"Helm chart {label}: not analysed ({refusal})",
            SkippedFile(path=rel, reason=f"{NOT_ANALYSED}: {refusal}"),
        )
    r = render_chart(root, folder, helm, _HELM_TIMEOUT)
    details = "".join(f"; {n}" for n in r.notes)
    if r.text is None:
        return _Render(
            rel,
            None,
            f"Helm chart {label}: not analysed ({r.reason}){details}",
            SkippedFile(path=rel, reason=f"{NOT_ANALYSED}: {r.reason}"),
        )
    if r.engine == "library":
        return _Render(rel, None, f"Helm chart {label}: a library chart, rendered by its users")
    variants = ", ".join(r.variants)
    return _Render(
        rel, r.text, f"Helm chart {label}: rendered with {r.engine} ({variants}){details}"
    )


def _outer(o: str, rel: str, folders: dict[str, str]) -> bool:
    """Whether kustomization `o` comes before `rel`: its folder holds `rel`'s (the first by
    name when two share a folder)."""
    if o == rel or not _under(folders[rel], folders[o]):
        return False
    return folders[o] != folders[rel] or o < rel


def _render_kustomizations(
    root: Path, rels: list[str], pool: ThreadPoolExecutor
) -> dict[str, _Render]:
    """Render the outermost kustomizations; one nested in a folder that rendered is covered by
    it, one nested in a folder that did not render is tried next (in waves, each in parallel)."""
    kubectl = shutil.which("kubectl")
    done: dict[str, _Render] = {}
    covered: list[str] = []
    pending = list(rels)
    while pending:
        folders = {rel: _folder_of(rel) for rel in pending}
        wave = [rel for rel in pending if not any(_outer(o, rel, folders) for o in pending)]
        for r in pool.map(lambda rel: _render_kustomization(root, kubectl, rel), wave):
            done[r.rel] = r
            if r.text is not None:
                covered.append(_folder_of(r.rel))
        pending = [
            rel
            for rel in pending
            if rel not in done and not any(_under(folders[rel], c) for c in covered)
        ]
    return done


def _build(root: Path, context: Context) -> Scan:
    kustomizations = sorted(
        (f.path for f in context.files_of(FileKind.kustomization)),
        key=lambda p: (p.count("/"), p),
    )
    charts = [f.path for f in context.files_of(FileKind.helm_chart)]
    workers = max(1, min(os.cpu_count() or 1, len(kustomizations) + len(charts)))
    helm = shutil.which("helm")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="render") as pool:
        chart_jobs = [pool.submit(_render_chart, root, helm, rel) for rel in charts]
        by_kustomization = _render_kustomizations(root, kustomizations, pool)
        by_chart = [job.result() for job in chart_jobs]
    notes: list[str] = []
    skipped: list[SkippedFile] = []
    rendered: list[tuple[str, str]] = []
    covered: list[str] = []
    for rel in kustomizations:  # notes in the order of the tree, however the renders finished
        r = by_kustomization.get(rel)
        if r is None:
            continue
        notes.append(r.note)
        if r.text is not None:
            covered.append(_folder_of(rel))
            rendered.append((rel, r.text))
    for r in by_chart:
        notes.append(r.note)
        if r.skipped is not None:
            skipped.append(r.skipped)
        if r.text is not None:
            rendered.append((r.rel, r.text))
    chart_folders = [_folder_of(rel) for rel in charts]
    for tf in context.files_of(FileKind.helm_template):
        skipped.append(
            SkippedFile(
                path=tf.path, reason="Helm template: not plain YAML, analysed only rendered"
            )
        )
    # Patch files are fragments of objects, not objects: never scanned as written, and never
    # where a rendered object is located.
    patches = {p for rel in kustomizations for p in kustomization_parts(root, rel).patches}
    manifests = [f.path for f in context.files_of(FileKind.kubernetes) if f.path not in patches]
    sources = _SourceMap(root, manifests) if rendered else None
    objects: list[K8sObject] = []
    problems: list[ParseProblem] = []
    for rel, text in rendered:
        objects.extend(_located(text, rel, sources))
    produced = {(o.kind, o.name) for o in objects}
    raw: list[str] = []
    for rel in manifests:
        if any(_under(rel, c) for c in chart_folders):
            continue
        if any(_under(rel, c) for c in covered) and sources is not None:
            # Inside a rendered kustomization: skip files whose objects the rendering used
            # (resources, patches); scan the ones it left out (e.g. a commented-out resource).
            keys = sources.keys_of(rel)
            if not keys or any(_produced(k, produced) for k in keys):
                continue
            if _fragment(root, rel):
                notes.append(f"{rel}: an unused patch fragment (not a whole object), skipped")
                continue
            notes.append(f"{rel}: not part of any kustomization output, scanned raw")
        raw.append(rel)
    index = ScanContext(root=root, accepted=frozenset(f.path for f in context.files))
    kfolders = [_folder_of(k) for k in kustomizations]
    definitions: dict[tuple[str, str, str, str], list[tuple[str, int]]] = {}
    for rel in raw:
        plain = not any(_under(rel, k) for k in kfolders)  # not a base, overlay or patch
        for item in iter_k8s_objects(root / rel, rel):
            if isinstance(item, K8sObject):
                index.index(item)
                if plain and item.name:
                    definitions.setdefault(_identity(item), []).append((rel, item.line))
            else:
                problems.append(item)
    for o in objects:
        index.index(o)
    return Scan(
        root=root,
        index=index,
        raw_files=raw,
        rendered=objects,
        k8s_problems=problems,
        notes=notes,
        skipped=skipped,
        renders=len(rendered),
        duplicates=[
            (f"{kind}/{ns}/{name}", where)  # as `K8sObject.resource` writes it
            for (_, kind, ns, name), where in definitions.items()
            if len(where) > 1
        ],
    )


def _identity(o: K8sObject) -> tuple[str, str, str, str]:
    """What makes two definitions the same object in a cluster: API group, kind, namespace,
    name."""
    group = o.api_version.rsplit("/", 1)[0] if "/" in o.api_version else ""
    return (group, o.kind, o.namespace or "", o.name)


def _located(text: str, rel: str, sources: _SourceMap | None) -> Iterator[K8sObject]:
    folder = _folder_of(rel)
    for item in iter_k8s_text(text, rel):
        if not isinstance(item, K8sObject):
            continue  # kubectl and helm print valid YAML; a stray document is not an object
        # Lines of rendered output point nowhere in the target: use the raw source's lines
        # (paths a patch added fall back to their nearest raw ancestor), else the
        # kustomization file itself.
        raw = sources.locate(item, folder) if sources else None
        if raw is not None:
            item.file, item.line, item._node = raw.file, raw.line, raw._node
            item._raw = raw.obj
        else:
            item.line, item._node = 1, None
        item.variant = folder or "."
        yield item


def _fragment(root: Path, rel: str) -> bool:
    """Whether a file a kustomization left unused is a patch fragment (a commented-out patch),
    not a whole object: one of its workloads has a container with no image, or an object lacks
    a field every whole object of its kind has (a Deployment with no selector, a webhook
    configuration with no webhooks), by the offline schemas."""
    for o in iter_k8s_objects(root / rel, rel):
        if not isinstance(o, K8sObject):
            continue
        if any(not c.container.get("image") for c in containers(o)):
            return True
        if _lacks_required_fields(o):
            return True
    return False


def _lacks_required_fields(o: K8sObject) -> bool:
    from llmgenie.agents.tools.checks.kubernetes_schema import schema_errors

    errors = schema_errors(o.obj) or []
    return any(e.validator == "required" for e in errors) or (
        o.kind.endswith("WebhookConfiguration") and not o.obj.get("webhooks")
    )


def _produced(key: tuple[str, str], produced: set[tuple[str, str]]) -> bool:
    kind, name = key
    return key in produced or any(k == kind and name and name in n for k, n in produced)


class _SourceMap:
    """Where a rendered object came from: (kind, name) -> raw files and lines, parsed lazily."""

    def __init__(self, root: Path, files: list[str]) -> None:
        self.root = root
        self.index: dict[tuple[str, str], list[tuple[str, int]]] = {}
        self.by_file: dict[str, list[tuple[str, str]]] = {}
        for rel in files:
            for item in iter_k8s_objects(root / rel, rel):
                if isinstance(item, K8sObject):
                    self.index.setdefault((item.kind, item.name), []).append((rel, item.line))
                    self.by_file.setdefault(rel, []).append((item.kind, item.name))
        self._cache: dict[str, dict[int, K8sObject]] = {}
        self._names: dict[str, list[str]] | None = None

    def _names_of(self, kind: str) -> list[str]:
        if self._names is None:
            self._names = {}
            for k, n in self.index:
                if n:
                    self._names.setdefault(k, []).append(n)
        return self._names.get(kind, [])

    def keys_of(self, rel: str) -> list[tuple[str, str]]:
        return self.by_file.get(rel, [])

    def _objects(self, rel: str) -> dict[int, K8sObject]:
        if rel not in self._cache:
            if len(self._cache) > 16:
                self._cache.clear()
            self._cache[rel] = {
                o.line: o
                for o in iter_k8s_objects(self.root / rel, rel)
                if isinstance(o, K8sObject)
            }
        return self._cache[rel]

    def locate(self, o: K8sObject, folder: str) -> K8sObject | None:
        """The raw object `o` was rendered from (namePrefix/nameSuffix allowed), if found."""
        found = self.index.get((o.kind, o.name))
        if not found:
            names = [n for n in self._names_of(o.kind) if n in o.name]
            if not names:
                return None
            found = self.index[(o.kind, max(names, key=len))]
        ranked = sorted(found, key=lambda fl: (not _under(fl[0], folder), fl[0]))
        if len(ranked) == 1:
            return self._objects(ranked[0][0]).get(ranked[0][1])
        # Several definitions of one name (a real object and a placeholder): the one whose
        # settings the rendered object shares most, never simply the first by path.
        candidates = [self._objects(rel).get(line) for rel, line in ranked]
        want = _leaves(o.obj.get("spec"))
        best = max(
            (c for c in candidates if c is not None),
            key=lambda c: (
                _under(c.file, folder),
                len(want & _leaves(c.obj.get("spec"))),
            ),
            default=None,
        )
        return best


def _leaves(value: Any, path: str = "", out: set[str] | None = None) -> set[str]:
    """`path=value` for the scalar leaves of a (bounded) object tree, to compare two objects."""
    out = set() if out is None else out
    if len(out) > 2000:
        return out
    if isinstance(value, dict):
        for k, v in value.items():
            _leaves(v, f"{path}/{k}", out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _leaves(v, f"{path}/{i}", out)
    else:
        out.add(f"{path}={value!r}")
    return out
