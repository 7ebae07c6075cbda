"""Rendering Kustomize folders and Helm charts with the user's `kubectl` and `helm`, offline.

Target content is data. A kustomization can name remote bases (`https://…`, `github.com/…`,
`git@…`): `kubectl kustomize` would fetch them, so a repository under review could make llmgenie
send requests wherever it likes (a cloud metadata endpoint, an internal service), and the only
traffic llmgenie makes is to endpoints the user set. It can also name bases and files outside
the target, which llmgenie never reads. Such a folder is not rendered (`kustomize_refusal` says
why, and its raw files are scanned instead), and both tools run with a proxy that answers
nothing and git restricted to local repositories, in case a reference gets past the check.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from llmgenie.core.audit import mask

__all__ = ["KUSTOMIZATION_FILES", "helm_refusal", "kustomize_refusal", "render"]

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")

#: Where kustomize looks for other kustomizations, resources and files.
_BASES = ("resources", "bases", "components")
_FILES = ("patchesStrategicMerge", "patchesJson6902", "crds", "configurations")
_PATH_KEYS = frozenset({"path", "files", "envs", "env"})
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
        for ref, is_base in _references(doc):
            if _REMOTE.match(ref):
                shown = mask(ref)[:120]  # a git URL may carry a token: it goes into the report
                return f"{label} names a remote resource, {shown}: llmgenie fetches nothing"
            target = (here / ref).resolve()
            if not target.is_relative_to(top):
                return f"{label} names {ref[:120]}, outside the target"
            if is_base and target.is_dir():
                pending.append(target)
    return None


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
    """(reference, names a base) for each path or URL a kustomization refers to."""
    for key in _BASES:
        for item in _strings(doc.get(key)):
            yield item, True
    for key in _FILES:
        for item in _strings(doc.get(key)):
            yield item, False
    yield from ((item, False) for item in _path_values(doc))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                yield item
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                yield item["path"]


def _path_values(value: Any, key: str | None = None) -> Iterator[str]:
    """Values under `path`, `files`, `envs`, `env` anywhere (patches, generators, replacements);
    a generator's `key=file` entries give their file."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _path_values(v, str(k))
    elif isinstance(value, list):
        for item in value:
            yield from _path_values(item, key)
    elif isinstance(value, str) and key in _PATH_KEYS:
        yield value.split("=", 1)[1] if key == "files" and "=" in value else value
