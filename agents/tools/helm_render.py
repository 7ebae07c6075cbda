"""Helm charts rendered offline: `helm template` when on PATH, else Helm's own engine in-process.

The in-process renderer is `helm-python-sdk` (the optional extra `helm`), which binds Helm v4's
Go SDK through a shared library: the same template engine, no binary, no cluster, no network
(`lookup` returns nothing). Either way the chart is rendered from a temporary copy, never in the
target, so that dependencies the target holds but the chart does not vendor (a library chart
beside it, as in a charts monorepo, or a `file://` repository inside the target) can be put in
the copy's `charts/`. A dependency found nowhere in the target is a note; nothing is fetched.

A chart renders its default values and, as variants, each `ci/*values*.yaml` it ships (Helm
charts' own convention for the values their CI installs). A variant adds the objects the
defaults do not produce (a metrics ServiceMonitor, a NetworkPolicy a flag turns on); an object
the defaults already produce is analysed once, as the defaults render it (decision 0035).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from llmgenie.agents.tools.kustomize_helm import render
from llmgenie.core.models import SkippedFile

__all__ = [
    "NOT_ANALYSED",
    "ChartRender",
    "in_process_available",
    "not_analysed_line",
    "render_chart",
]

#: How a skipped chart's reason begins (the terminal summaries count them by it).
NOT_ANALYSED = "Helm chart not analysed"

#: The release name every render uses (as `helm template llmgenie CHART`).
RELEASE = "llmgenie"
_NAMESPACE = "default"
_DOC_SPLIT = re.compile(r"^---[ \t]*$", re.MULTILINE)


@dataclass
class ChartRender:
    """One chart rendered (`text`, every variant merged) or not (`text` None, `reason` why)."""

    text: str | None
    #: `helm template` or `helm-python-sdk` when rendered.
    engine: str = ""
    #: Variant labels rendered: `defaults`, then `ci/<file>` for each CI values file.
    variants: list[str] = field(default_factory=list)
    #: One line each: dependencies copied from the target or missing, variants that failed.
    notes: list[str] = field(default_factory=list)
    reason: str = ""


def in_process_available() -> bool:
    """Whether Helm's engine can be loaded in-process (`pip install llmgenie[helm]`)."""
    return _sdk() is not None


def not_analysed_line(skipped: Iterable[SkippedFile]) -> str | None:
    """One line for a terminal summary: how many charts were not analysed, which, and why."""
    charts = [s for s in skipped if s.reason.startswith(NOT_ANALYSED)]
    if not charts:
        return None
    folders = [str(Path(s.path).parent) for s in charts]
    shown = ", ".join(folders[:5]) + (f" and {len(folders) - 5} more" if len(folders) > 5 else "")
    reasons = Counter(s.reason.removeprefix(NOT_ANALYSED).lstrip(": ") for s in charts)
    why, _ = reasons.most_common(1)[0]
    why += "; other reasons in the report" if len(reasons) > 1 else ""
    n = len(charts)
    return f"{n} Helm chart{'s' if n > 1 else ''} not analysed: {shown} ({why})"


def _sdk() -> Any | None:
    try:
        import helm_python  # an optional extra, loaded only when needed
    except (ImportError, OSError):  # not installed, or its shared library does not load here
        return None
    return helm_python


def render_chart(root: Path, folder: str, helm: str | None, timeout: float) -> ChartRender:
    """Render the chart in `root/folder` with the `helm` binary at `helm`, else in-process."""
    sdk = None if helm is not None else _sdk()
    if helm is None and sdk is None:
        return ChartRender(
            None,
            reason="helm not on PATH and the in-process renderer is not installed "
            "(pip install 'llmgenie[helm]')",
        )
    top = root.resolve()
    chart_dir = (root / folder).resolve()
    if _chart_doc(chart_dir).get("type") == "library":
        return ChartRender("", engine="library")  # no objects of its own; rendered by its users
    with tempfile.TemporaryDirectory(prefix="llmgenie-helm-") as tmp:
        staged = Path(tmp) / (chart_dir.name or "chart")
        try:
            # helm_refusal has ruled out links leading out of the target: follow the rest
            shutil.copytree(chart_dir, staged, symlinks=False)
        except (OSError, shutil.Error) as exc:
            return ChartRender(None, reason=f"chart cannot be copied ({type(exc).__name__})")
        notes = _vendor(top, chart_dir, staged)
        variants = [("defaults", None)] + [
            (f"ci/{p.name}", p) for p in sorted((staged / "ci").glob("*values*.y*ml"))
        ]
        if sdk is not None:
            renders = _render_in_process(sdk, staged, variants)
            engine = "helm-python-sdk"
        else:
            assert helm is not None
            renders = _render_with_binary(helm, staged, variants, timeout)
            engine = "helm template"
    texts: list[tuple[str, str]] = []
    for label, text, err in renders:
        if text is None:
            if label == "defaults":  # a missing dependency is the likelier cause, and clearer
                missing = [n for n in notes if "not vendored" in n]
                reason = missing[0] if missing else err
                return ChartRender(None, engine=engine, notes=[*notes, err], reason=reason)
            notes.append(f"variant {label} not rendered: {err}")
        else:
            texts.append((label, text))
    merged, used = _merge(texts)
    return ChartRender(merged, engine=engine, variants=used, notes=notes)


# -- dependencies ---------------------------------------------------------------------------


def _declared(chart_dir: Path) -> list[dict[str, Any]]:
    """The dependencies Chart.yaml (apiVersion v2) or requirements.yaml (v1) declares."""
    deps: list[dict[str, Any]] = []
    for name in ("Chart.yaml", "requirements.yaml"):
        try:
            doc = yaml.safe_load((chart_dir / name).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if isinstance(doc, dict) and isinstance(doc.get("dependencies"), list):
            deps.extend(d for d in doc["dependencies"] if isinstance(d, dict) and d.get("name"))
    return deps


def _chart_doc(folder: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load((folder / "Chart.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return doc if isinstance(doc, dict) else {}


def _chart_name(folder: Path) -> str | None:
    name = _chart_doc(folder).get("name")
    return str(name) if name else None


def _vendored(staged: Path) -> set[str]:
    """Names of the charts already in `charts/`: folders by their Chart.yaml, archives by
    their file name (`NAME-VERSION.tgz`)."""
    names: set[str] = set()
    charts = staged / "charts"
    if not charts.is_dir():
        return names
    for entry in charts.iterdir():
        if entry.is_dir():
            names.add(_chart_name(entry) or entry.name)
        elif entry.suffix == ".tgz":
            names.add(entry.name.rsplit("-", 1)[0])
    return names


def _vendor(top: Path, chart_dir: Path, staged: Path) -> list[str]:
    """Copy into the staged `charts/` each declared dependency the chart does not vendor but
    the target holds; one note per dependency copied or missing."""
    notes: list[str] = []
    have = _vendored(staged)
    for dep in _declared(chart_dir):
        name = str(dep["name"])
        if name in have:
            continue
        repo = str(dep.get("repository") or "")
        candidates = []
        if repo.startswith("file://"):
            candidates.append((chart_dir / repo.removeprefix("file://")).resolve())
        candidates.append((chart_dir.parent / name).resolve())
        found = next(
            (
                c
                for c in candidates
                if c.is_relative_to(top) and c != chart_dir and _chart_name(c) == name
            ),
            None,
        )
        if found is None:
            where = f" ({repo[:120]})" if repo else ""
            notes.append(f"dependency {name}{where} not vendored in charts/: not fetched")
            continue
        try:
            shutil.copytree(found, staged / "charts" / name, symlinks=False)
        except (OSError, shutil.Error) as exc:
            notes.append(f"dependency {name} cannot be copied ({type(exc).__name__})")
            continue
        have.add(name)
        notes.append(f"dependency {name} from {found.relative_to(top).as_posix() or '.'}")
    return notes


# -- rendering ------------------------------------------------------------------------------

_Variant = tuple[str, Path | None]
_Rendered = tuple[str, str | None, str]


def _render_with_binary(
    helm: str, staged: Path, variants: list[_Variant], timeout: float
) -> list[_Rendered]:
    out: list[_Rendered] = []
    for label, values in variants:
        cmd = [helm, "template", RELEASE, str(staged), "--namespace", _NAMESPACE]
        if values is not None:
            cmd += ["--values", str(values)]
        text, err = render(cmd, timeout)
        out.append((label, text, f"helm template failed: {err}" if text is None else ""))
    return out


def _render_in_process(sdk: Any, staged: Path, variants: list[_Variant]) -> list[_Rendered]:
    out: list[_Rendered] = []
    try:
        chart = sdk.Chart.load(staged)
    except sdk.HelmError as exc:
        return [("defaults", None, f"chart does not load: {_first_line(exc)}")]
    with chart:
        for label, path in variants:
            try:
                values = None
                if path is not None:
                    values = sdk.values_from_yaml(path.read_text(encoding="utf-8"))
                manifests = chart.render(
                    values, name=RELEASE, namespace=_NAMESPACE, is_install=True
                )
            except (sdk.HelmError, OSError, UnicodeDecodeError) as exc:
                out.append((label, None, f"render failed: {_first_line(exc)}"))
                continue
            out.append((label, _as_template_output(manifests), ""))
    return out


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines)[:300] or type(exc).__name__


def _as_template_output(manifests: dict[str, str]) -> str:
    """The SDK's {template: text} as `helm template` prints it (NOTES.txt and empty ones out)."""
    parts = []
    for name in sorted(manifests):
        text = manifests[name]
        if name.endswith("NOTES.txt") or not text.strip():
            continue
        parts.append(f"---\n# Source: {name}\n{text.strip()}\n")
    return "".join(parts)


def _documents(text: str) -> Iterator[tuple[tuple[str, str, str] | None, str]]:
    """Each YAML document of `text` with its (apiVersion kind, namespace, name), if an object."""
    for doc in _DOC_SPLIT.split(text):
        if not doc.strip():
            continue
        try:
            obj = yaml.safe_load(doc)
        except yaml.YAMLError:
            yield None, doc
            continue
        if not isinstance(obj, dict):
            continue  # comments only
        md = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        key = (str(obj.get("kind")), str(md.get("namespace") or ""), str(md.get("name")))
        yield key, doc


def _merge(texts: list[tuple[str, str]]) -> tuple[str | None, list[str]]:
    """The defaults' objects, then each variant's objects not produced before it; and the
    labels of the variants rendered."""
    if not texts:
        return None, []
    seen: set[tuple[str, str, str]] = set()
    parts: list[str] = []
    for _label, text in texts:
        for key, doc in _documents(text):
            if key is None or key in seen:
                continue
            seen.add(key)
            parts.append("---\n" + doc.strip("\n") + "\n")
    return "".join(parts), [label for label, _ in texts]
