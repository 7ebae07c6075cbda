"""Remediation patches: one unified diff per Kubernetes file that fixes what can be fixed safely.

Fixes, per container (init containers included) unless said otherwise:

* securityContext: `allowPrivilegeEscalation: false` (not on privileged containers, where the API
  rejects it), `runAsNonRoot: true` (not where a `runAsUser: 0` is set), `readOnlyRootFilesystem:
  true`, `capabilities.drop: [ALL]`; pod-level `seccompProfile: {type: RuntimeDefault}`;
* resources: missing requests/limits get conservative defaults, each marked with a comment to
  tune them to measured usage; a missing request copies its limit, a missing limit its request
  where one is set (so limit >= request always holds);
* `latest` or untagged images get the tag or digest the same repository has elsewhere in the
  target, and only when exactly one such version is known;
* missing liveness/readiness probes: a commented skeleton to fill in (a guessed probe that
  fails would restart a healthy service, so nothing is enabled).

Files are edited with ruamel.yaml's round-trip mode, so comments, key order, quotes and flow
style survive; documents that need no fix keep their exact text. Patches are artifacts: this
module never writes to the target.
"""

from __future__ import annotations

import difflib
import io
import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from llmgenie.core.models import Context, FileKind, Finding
from llmgenie.core.redact import redact
from llmgenie.core.secrets import find_secrets

from ..parsing.image import parse_image_ref
from ..parsing.kubernetes import POD_BEARING_KINDS, containers
from ..scanning import build_scan

__all__ = [
    "DEFAULT_RESOURCES",
    "FIXABLE_CATEGORIES",
    "PatchSet",
    "build_patches",
    "known_versions",
    "patch_text",
]

#: Conservative defaults for missing resources: small, so they schedule, and marked for tuning;
#: memory limit == request and CPU limit within 4x of the request (see the perf rules).
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "400m", "memory": "256Mi"},
}
_TUNE = "llmgenie: conservative default, tune to measured usage"

FIXABLE_CATEGORIES = frozenset(
    {
        "k8s.privilege-escalation",
        "k8s.run-as-root",
        "k8s.read-only-root-fs",
        "k8s.capabilities",
        "k8s.seccomp",
        "k8s.cpu-requests",
        "k8s.memory-requests",
        "k8s.cpu-limits",
        "k8s.memory-limits",
        "k8s.image-latest-tag",
        "k8s.liveness-probe",
        "k8s.readiness-probe",
    }
)

_PROBE_SKELETON = """\
llmgenie: no {kind} probe. Fill in the check and uncomment:
{key}:
  httpGet:
    path: /healthz   # an endpoint that answers 200 when the process {meaning}
    port: {port}
  periodSeconds: 10
  failureThreshold: 3"""
_PROBE_MEANING = {
    "liveness": "is alive (no dependency checks)",
    "readiness": "can serve traffic",
}
_NO_PROBES = {"Job", "CronJob"}
_SEPARATOR = re.compile(r"^---(?:\s.*)?$")
_KIND = re.compile(r"^kind:\s*[\"']?(\w+)", re.M)
#: Seconds spent patching before the rest of the files are left out (and said so).
PATCH_BUDGET_SECONDS = 20.0


@dataclass
class PatchSet:
    """Patches by file (unified diffs) and what each one fixes."""

    diffs: dict[str, str] = field(default_factory=dict)
    fixes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_output(self) -> dict[str, Any]:
        return {"patches": self.diffs, "patch_fixes": self.fixes, "patch_notes": self.notes}


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.allow_duplicate_keys = True
    y.width = 4096
    return y


def _split_documents(text: str) -> list[str]:
    """The text of each YAML document, separators kept with the document they open."""
    chunks: list[list[str]] = [[]]
    for line in text.splitlines(keepends=True):
        if _SEPARATOR.match(line) and any(
            s.strip() and not s.lstrip().startswith("#") for s in chunks[-1]
        ):
            chunks.append([])
        chunks[-1].append(line)
    return ["".join(c) for c in chunks]


def _preamble(chunk: str) -> tuple[str, str]:
    """Split the leading comments, blank lines and `---` (kept verbatim) from the document."""
    lines = chunk.splitlines(keepends=True)
    n = 0
    for line in lines:
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not _SEPARATOR.match(stripped):
            break
        n += 1
    return "".join(lines[:n]), "".join(lines[n:])


def _indent_of(text: str) -> tuple[int, int]:
    """(mapping indent, sequence dash offset) the document mostly uses (ruamel takes one)."""
    mappings: Counter[int] = Counter()
    offsets: Counter[int] = Counter()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    for line, nxt in pairwise(lines):
        stripped = line.lstrip()
        if not stripped.endswith(":") or stripped.startswith("- "):
            continue
        step = (len(nxt) - len(nxt.lstrip())) - (len(line) - len(stripped))
        if nxt.lstrip().startswith("- "):
            offsets[max(step, 0)] += 1
        elif step > 0:
            mappings[step] += 1
    mapping = mappings.most_common(1)[0][0] if mappings else 2
    offset = offsets.most_common(1)[0][0] if offsets else 0
    return mapping, offset


def known_versions(images: Iterable[str]) -> dict[str, set[str]]:
    """Repository -> the pinned references (`:tag`, `@digest`) the target uses for it."""
    out: dict[str, set[str]] = {}
    for image in images:
        parts = parse_image_ref(image)
        tag, digest = parts.tag, parts.digest
        ref = f"@{digest}" if digest else (f":{tag}" if tag and tag != "latest" else None)
        if ref:
            out.setdefault(parts.name, set()).add(
                f":{tag}@{digest}" if tag and digest and tag != "latest" else ref
            )
    return out


def _is_latest(image: str) -> bool:
    return parse_image_ref(image).is_latest_or_untagged


def _path(doc: Any, path: tuple[str, ...]) -> Any:
    cur = doc
    for step in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(step)
    return cur


def _ensure_map(parent: CommentedMap, key: str) -> CommentedMap | None:
    value = parent.get(key)
    if value is None:
        parent[key] = CommentedMap()
        return parent[key]
    return value if isinstance(value, CommentedMap) else None


@dataclass
class _Doc:
    file: str
    resource: str
    wanted: set[tuple[str, str]] | None
    versions: dict[str, set[str]]
    fixes: list[dict[str, Any]]
    notes: list[str]

    def want(self, category: str) -> bool:
        return self.wanted is None or (category, self.resource) in self.wanted

    def fixed(self, category: str, container: str | None, change: str) -> None:
        self.fixes.append(
            {
                "file": self.file,
                "resource": self.resource,
                "container": container,
                "category": category,
                "change": change,
            }
        )


def _fix_pod(doc: _Doc, pod: CommentedMap, kind: str) -> None:
    pod_sc = pod.get("securityContext") if isinstance(pod.get("securityContext"), dict) else {}
    containers: list[tuple[str, CommentedMap]] = []
    for key in ("initContainers", "containers"):
        items = pod.get(key)
        if isinstance(items, CommentedSeq):
            containers += [(key, c) for c in items if isinstance(c, CommentedMap)]
    if not containers:
        return
    any_seccomp = isinstance(pod_sc.get("seccompProfile"), dict) or any(
        isinstance((c.get("securityContext") or {}).get("seccompProfile"), dict)
        for _, c in containers
        if isinstance(c.get("securityContext"), dict)
    )
    if not any_seccomp and doc.want("k8s.seccomp"):
        sc = _ensure_map(pod, "securityContext")
        if sc is not None:
            sc["seccompProfile"] = CommentedMap(type="RuntimeDefault")
            doc.fixed("k8s.seccomp", None, "securityContext.seccompProfile.type: RuntimeDefault")
    for key, c in containers:
        _fix_container(doc, c, pod_sc, kind, regular=key == "containers")


def _fix_container(
    doc: _Doc, c: CommentedMap, pod_sc: dict[str, Any], kind: str, *, regular: bool
) -> None:
    name = str(c.get("name") or "?")
    sc_raw = c.get("securityContext")
    if sc_raw is not None and not isinstance(sc_raw, CommentedMap):
        doc.notes.append(f"{doc.file} {doc.resource} {name}: securityContext is not a mapping")
        return
    sc = sc_raw if sc_raw is not None else CommentedMap()
    changed = False
    if sc.get("allowPrivilegeEscalation") is not False and doc.want("k8s.privilege-escalation"):
        if sc.get("privileged") is True:
            doc.notes.append(
                f"{doc.file} {doc.resource} {name}: privileged, "
                "allowPrivilegeEscalation not patched"
            )
        else:
            sc["allowPrivilegeEscalation"] = False
            changed = True
            doc.fixed("k8s.privilege-escalation", name, "allowPrivilegeEscalation: false")
    non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
    user = sc.get("runAsUser", pod_sc.get("runAsUser"))
    if non_root is not True and doc.want("k8s.run-as-root"):
        if user == 0:
            doc.notes.append(
                f"{doc.file} {doc.resource} {name}: runAsUser 0, runAsNonRoot not patched"
            )
        else:
            sc["runAsNonRoot"] = True
            changed = True
            doc.fixed(
                "k8s.run-as-root", name, "runAsNonRoot: true (the image must set a non-root USER)"
            )
    if sc.get("readOnlyRootFilesystem") is not True and doc.want("k8s.read-only-root-fs"):
        sc["readOnlyRootFilesystem"] = True
        changed = True
        doc.fixed(
            "k8s.read-only-root-fs",
            name,
            "readOnlyRootFilesystem: true (mount emptyDirs for writes)",
        )
    caps = sc.get("capabilities")
    if caps is not None and not isinstance(caps, CommentedMap):
        caps = None
    drop = caps.get("drop") if caps is not None else None
    dropped = {str(d).upper() for d in drop} if isinstance(drop, list) else set()
    if "ALL" not in dropped and doc.want("k8s.capabilities"):
        if caps is None:
            caps = CommentedMap()
            sc["capabilities"] = caps
        if isinstance(drop, CommentedSeq):
            drop.append("ALL")
        else:
            caps["drop"] = CommentedSeq(["ALL"])
        changed = True
        doc.fixed("k8s.capabilities", name, "capabilities.drop: [ALL]")
    if changed and sc_raw is None:
        c["securityContext"] = sc
    _fix_resources(doc, c, name)
    _fix_image(doc, c, name)
    if regular and kind not in _NO_PROBES:
        _probe_skeletons(doc, c, name)


def _fix_resources(doc: _Doc, c: CommentedMap, name: str) -> None:
    res = c.get("resources")
    if res is not None and not isinstance(res, CommentedMap):
        return
    res = res if res is not None else CommentedMap()
    for resource in ("cpu", "memory"):
        req_cat, lim_cat = f"k8s.{resource}-requests", f"k8s.{resource}-limits"
        requests = res.get("requests") if isinstance(res.get("requests"), CommentedMap) else None
        limits = res.get("limits") if isinstance(res.get("limits"), CommentedMap) else None
        req = requests.get(resource) if requests is not None else None
        lim = limits.get(resource) if limits is not None else None
        if req is None and doc.want(req_cat):
            value, note = (
                (lim, "= limit")
                if lim is not None
                else (
                    DEFAULT_RESOURCES["requests"][resource],
                    "default",
                )
            )
            requests = _ensure_map(res, "requests")
            if requests is not None:
                requests[resource] = value
                if note == "default":
                    requests.yaml_add_eol_comment(_TUNE, resource)
                doc.fixed(req_cat, name, f"requests.{resource}: {value} ({note})")
                req = value
        if lim is None and doc.want(lim_cat):
            value, note = (
                (req, "= request")
                if req is not None
                and requests is not None
                and (requests.get(resource) != DEFAULT_RESOURCES["requests"][resource])
                else (DEFAULT_RESOURCES["limits"][resource], "default")
            )
            limits = _ensure_map(res, "limits")
            if limits is not None:
                limits[resource] = value
                if note == "default":
                    limits.yaml_add_eol_comment(_TUNE, resource)
                doc.fixed(lim_cat, name, f"limits.{resource}: {value} ({note})")
    if res and "resources" not in c:
        c["resources"] = res


def _fix_image(doc: _Doc, c: CommentedMap, name: str) -> None:
    image = c.get("image")
    if not isinstance(image, str) or not _is_latest(image) or not doc.want("k8s.image-latest-tag"):
        return
    repo = parse_image_ref(image).name
    versions = doc.versions.get(repo, set())
    if len(versions) != 1:
        if versions:
            doc.notes.append(
                f"{doc.file} {doc.resource} {name}: {image} has several known versions "
                f"({', '.join(sorted(versions))}); not patched"
            )
        return
    pinned = repo + next(iter(versions))
    c["image"] = type(image)(pinned) if type(image) is not str else pinned
    doc.fixed("k8s.image-latest-tag", name, f"image: {pinned} (as used elsewhere in the target)")


def _first_port(c: CommentedMap) -> int | str:
    for p in c.get("ports") or []:
        if isinstance(p, dict) and p.get("containerPort") is not None:
            return p["containerPort"]
    return 8080


def _probe_skeletons(doc: _Doc, c: CommentedMap, name: str) -> None:
    keys = list(c)
    if len(keys) < 2:
        return  # nothing to hang the comment on without moving `name`
    blocks = []
    for kind, key in (("liveness", "livenessProbe"), ("readiness", "readinessProbe")):
        if key in c or not doc.want(f"k8s.{kind}-probe"):
            continue
        blocks.append(
            _PROBE_SKELETON.format(
                kind=kind, key=key, meaning=_PROBE_MEANING[kind], port=_first_port(c)
            )
        )
        doc.fixed(f"k8s.{kind}-probe", name, f"commented {key} skeleton (not enabled)")
    if blocks:
        column = getattr(c.lc, "col", 0) or 0
        c.yaml_set_comment_before_after_key(keys[1], before="\n".join(blocks), indent=column)


def _fix_document(doc: _Doc, data: Any) -> None:
    kind = data.get("kind") if isinstance(data, dict) else None
    path = POD_BEARING_KINDS.get(str(kind))
    if path is None:
        return
    pod = _path(data, path)
    if isinstance(pod, CommentedMap):
        _fix_pod(doc, pod, str(kind))


def patch_text(
    text: str,
    rel: str,
    *,
    wanted: set[tuple[str, str]] | None = None,
    versions: dict[str, set[str]] | None = None,
) -> tuple[str, list[dict[str, Any]], list[str]]:
    """The fixed text of one manifest file, the fixes made and notes on what was left alone."""
    fixes: list[dict[str, Any]] = []
    notes: list[str] = []
    out: list[str] = []
    for whole in _split_documents(text):
        preamble, chunk = _preamble(whole)
        kind = _KIND.search(chunk)
        if kind is None or kind.group(1) not in POD_BEARING_KINDS or "$patch" in chunk:
            # nothing to fix outside pod specs (skip the slow round-trip); a kustomize
            # strategic-merge patch is partial on purpose and is fixed in its base instead
            out.append(whole)
            continue
        y = _yaml()
        mapping, offset = _indent_of(chunk)
        y.indent(mapping=mapping, sequence=mapping + offset if offset else mapping, offset=offset)
        try:
            data = y.load(chunk)
        except (YAMLError, ValueError, RecursionError) as exc:
            notes.append(f"{rel}: not patched, {type(exc).__name__}")
            out.append(whole)
            continue
        if not isinstance(data, CommentedMap):
            out.append(whole)
            continue
        md = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
        ns = md.get("namespace") or ""
        resource = f"{data.get('kind')}/{ns}/{md.get('name') or ''}"
        doc = _Doc(rel, resource, wanted, versions or {}, [], notes)
        _fix_document(doc, data)
        if not doc.fixes:
            out.append(whole)
            continue
        fixes.extend(doc.fixes)
        buf = io.StringIO()
        y.dump(data, buf)
        out.append(preamble + buf.getvalue())
    return "".join(out), fixes, notes


def _unified(rel: str, before: str, after: str) -> str:
    out = []
    for line in difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"a/{rel}",
        tofile=f"b/{rel}",
    ):
        # `patch` needs the marker for a last line without a newline
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def build_patches(
    root: Path,
    context: Context,
    findings: Iterable[Finding] | None = None,
    *,
    images: Iterable[str] | None = None,
    budget_seconds: float = PATCH_BUDGET_SECONDS,
) -> PatchSet:
    """Unified diffs for the target's Kubernetes files.

    With `findings`, only (category, resource) pairs that have a finding are fixed (so a
    suppressed finding stays unpatched); with None every fixable gap is. `images` are the image
    references the target uses (the inventory's: its scanned objects, compose files and
    Dockerfiles), to learn versions from; None takes those of the objects of its scan.
    """
    root = Path(root)
    wanted = None
    if findings is not None:
        wanted = {
            (f.category, f.resource or "") for f in findings if f.category in FIXABLE_CATEGORIES
        }
    files = [f.path for f in context.files_of(FileKind.kubernetes)]
    if images is None:
        images = [
            str(c.container["image"])
            for o in build_scan(root, context).k8s_objects()
            for c in containers(o)
            if c.container.get("image")
        ]
    versions = known_versions(images)
    result = PatchSet()
    if wanted is not None and not wanted:
        return result
    deadline = time.monotonic() + budget_seconds
    for i, rel in enumerate(files):
        if time.monotonic() > deadline:
            result.notes.append(
                f"patch time budget ({budget_seconds:g}s) spent: {len(files) - i} file(s) "
                "not patched"
            )
            break
        text = _read(root, rel)
        if text is None:
            continue
        try:
            fixed, fixes, notes = patch_text(text, rel, wanted=wanted, versions=versions)
        except Exception as exc:  # a file the round-trip cannot handle is left alone, said so
            result.notes.append(f"{rel}: not patched ({type(exc).__name__}: {exc})"[:300])
            continue
        result.notes.extend(notes)
        if fixed != text and fixes:
            diff = _unified(rel, text, fixed)
            # secrets in the file (context lines included) never leave it: masked, said so
            result.diffs[rel] = redact(diff, rel, find_secrets(rel, text.splitlines()))
            if result.diffs[rel] != diff:
                result.notes.append(f"{rel}: secrets masked in the patch: apply it by hand")
            result.fixes.extend(fixes)
    return result
