"""Rendering Kustomize folders and Helm charts with the user's `kubectl` and `helm`, offline.

Target content is data. A kustomization can name remote bases (`https://…`, `github.com/…`,
`git@…`): `kubectl kustomize` would fetch them, so a repository under review could make llmgenie
send requests wherever it likes (a cloud metadata endpoint, an internal service), and the only
traffic llmgenie makes is to endpoints the user set. It can also name bases and files outside
the target, which llmgenie never reads. Every field of a kustomization that names a file,
folder or URL is checked (patches, generators, transformers, validators, openapi, helmCharts…),
and a field llmgenie does not know stops the render too. Such a folder is not rendered
(`kustomize_refusal` says why, and its raw files are scanned instead), and both tools run with
a proxy that answers nothing and git restricted to local repositories, in case a reference
gets past the check.
"""

from __future__ import annotations

import os
import posixpath
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from llmgenie.core.audit import mask

__all__ = [
    "KUSTOMIZATION_FILES",
    "KustomizationParts",
    "helm_refusal",
    "kustomization_parts",
    "kustomize_refusal",
    "render",
]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

#: Every field a kustomization (or component) may hold, by what it names. A field not listed
#: here stops the render: a later kustomize may read files through it that this check never saw.
#: Fields naming another kustomization (a folder is followed and checked in turn):
_BASES = frozenset({"resources", "bases", "components", "transformers", "generators", "validators"})
#: Fields whose entries are files (strings, or mappings with a `path`):
_FILES = frozenset(
    {
        "patchesStrategicMerge",
        "patchesJson6902",
        "patches",
        "crds",
        "configurations",
        "replacements",
        "openapi",
    }
)
#: Fields with files and URLs in named keys (generators, Helm inflation):
_NESTED = frozenset(
    {
        "configMapGenerator",
        "secretGenerator",
        "helmCharts",
        "helmGlobals",
        "helmChartInflationGenerator",
    }
)
#: Fields that name no file at all.
_INERT = frozenset(
    {
        "apiVersion",
        "kind",
        "metadata",
        "namePrefix",
        "nameSuffix",
        "namespace",
        "commonLabels",
        "labels",
        "commonAnnotations",
        "images",
        "imageTags",
        "replicas",
        "vars",
        "generatorOptions",
        "buildMetadata",
        "sortOptions",
    }
)
#: Keys that hold a file, folder or URL inside entries of any field (`key=file` allowed in
#: `files`).
_PATH_KEYS = frozenset(
    {
        "path",
        "files",
        "envs",
        "env",
        "valuesFile",
        "additionalValuesFiles",
        "chartHome",
        "configHome",
        "repo",
        "chartRepoUrl",
        "values",
    }
)
#: Kustomize's remote forms: URLs, scp-like git, and the bare hosts it treats as git remotes.
_REMOTE = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://|git@|[\w.-]+@[\w.-]+:|(?:github|gitlab|bitbucket)\.(?:com|org)/)",
    re.IGNORECASE,
)

#: A closed port on loopback: a fetch that slips past the check fails at once.
_NO_PROXY_ANSWERS = "http://127.0.0.1:9"


def render(cmd: list[str], timeout: float) -> tuple[str | None, str]:
    """Run a renderer offline; `(stdout, "")`, or `(None, one line saying why not)`."""
    env = {
        **os.environ,
        "HTTP_PROXY": _NO_PROXY_ANSWERS,
        "HTTPS_PROXY": _NO_PROXY_ANSWERS,
        "ALL_PROXY": _NO_PROXY_ANSWERS,
        "http_proxy": _NO_PROXY_ANSWERS,
        "https_proxy": _NO_PROXY_ANSWERS,
        "all_proxy": _NO_PROXY_ANSWERS,
        "NO_PROXY": "",
        "no_proxy": "",
        "GIT_ALLOW_PROTOCOL": "file",
        "GIT_TERMINAL_PROMPT": "0",
    }
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if proc.returncode != 0:
        err = (proc.stderr or "").strip().splitlines()
        return None, err[-1][:300] if err else f"exit {proc.returncode}"
    return proc.stdout, ""


def kustomize_refusal(root: Path, folder: str) -> str | None:
    """Why the kustomization in `root/folder` must not be rendered, or None.

    It must not when it (or a base it names) refers to anything remote, or to a base or file
    outside `root`, or when one of its kustomization files cannot be read.
    """
    top = root.resolve()
    seen: set[Path] = set()
    pending = [(root / folder).resolve()]
    while pending:
        here = pending.pop()
        if here in seen:
            continue
        seen.add(here)
        kfile = next((here / n for n in KUSTOMIZATION_FILES if (here / n).is_file()), None)
        if kfile is None:
            continue  # a plain folder of resources, or not there: kustomize will say
        label = kfile.relative_to(top).as_posix()
        try:
            doc = yaml.safe_load(kfile.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            return f"{label} cannot be read ({type(exc).__name__})"
        if not isinstance(doc, dict):
            continue
        unknown = sorted(str(k) for k in doc if k not in _BASES | _FILES | _NESTED | _INERT)
        if unknown:
            return (
                f"{label} has a field llmgenie does not check ({', '.join(unknown)[:120]}): "
                "it might name files outside the target"
            )
        for ref, is_base in _references(doc):
            if _REMOTE.match(ref):
                shown = mask(ref)[:120]  # a git URL may carry a token: it goes into the report
                return f"{label} names a remote resource, {shown}: llmgenie fetches nothing"
            if Path(ref).is_absolute() or ref.startswith("~"):
                return f"{label} names {ref[:120]}, outside the target (an absolute path)"
            target = (here / ref).resolve()
            if not target.is_relative_to(top):
                return f"{label} names {ref[:120]}, outside the target"
            if is_base and target.is_dir():
                pending.append(target)
    return None


@dataclass(frozen=True)
class KustomizationParts:
    """What a kustomization file says about itself: is it a Component, which files are patches."""

    component: bool
    #: Target-relative paths of the patch files it names (fragments, not whole manifests).
    patches: tuple[str, ...]


def kustomization_parts(root: Path, rel: str) -> KustomizationParts:
    """Read the kustomization file `rel` (target-relative); an unreadable one has no parts."""
    try:
        doc = yaml.safe_load((root / rel).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return KustomizationParts(False, ())
    if not isinstance(doc, dict):
        return KustomizationParts(False, ())
    folder = PurePosixPath(rel).parent
    patches: list[str] = []
    for key in ("patchesStrategicMerge", "patches", "patchesJson6902"):
        for item in doc.get(key) or []:
            ref = item.get("path") if isinstance(item, dict) else item
            if isinstance(ref, str) and "\n" not in ref and not _REMOTE.match(ref):
                path = posixpath.normpath((folder / ref).as_posix())
                if not path.startswith("../"):
                    patches.append(path)
    return KustomizationParts(doc.get("kind") == "Component", tuple(patches))


def helm_refusal(root: Path, folder: str) -> str | None:
    """Why the chart in `root/folder` must not be rendered, or None: helm reads every file of
    a chart, and follows symlinks, so one that leads out of the target must stop it."""
    top = root.resolve()
    for here, dirs, files in os.walk(root / folder):
        for name in [*dirs, *files]:
            path = Path(here) / name
            if path.is_symlink() and not path.resolve().is_relative_to(top):
                return f"{path.relative_to(root).as_posix()} is a symlink out of the target"
    return None


def _references(doc: dict[str, Any]) -> Iterator[tuple[str, bool]]:
    """(reference, may name a kustomization) for each path or URL a kustomization refers to.

    An entry that is itself YAML (an inline patch or transformer config) names no file, but
    the paths inside it are checked all the same.
    """
    for key, value in doc.items():
        if key in _INERT:
            continue
        entries = value if isinstance(value, list) else [value]
        for item in entries:
            if isinstance(item, str):
                inline = _inline(item)
                if inline is None:
                    yield item.strip(), key in _BASES
                elif key in _BASES:  # an inline transformer/generator config may name files
                    yield from ((ref, False) for ref in _path_values(inline))
                # an inline patch names no file
            else:
                yield from ((ref, False) for ref in _path_values(item))


def _inline(text: str) -> Any:
    """The YAML an entry holds inline (an inline patch or transformer), or None for a path."""
    if "\n" not in text.strip() and not text.lstrip().startswith(("{", "[")):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return {}


def _path_values(value: Any, key: str | None = None) -> Iterator[str]:
    """Values under the keys that name files (`path`, `files`, `envs`, `valuesFile`, `repo`, …)
    anywhere in an entry; a generator's `key=file` entries give their file."""
    if isinstance(value, dict):
        if "op" in value:
            return  # a JSON 6902 operation: its `path` is a field path, not a file
        for k, v in value.items():
            yield from _path_values(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _path_values(item, key)
    elif isinstance(value, str) and key in _PATH_KEYS:
        if key == "values" and "\n" in value:
            return  # helmChartInflationGenerator's inline values
        yield value.split("=", 1)[1] if key == "files" and "=" in value else value
