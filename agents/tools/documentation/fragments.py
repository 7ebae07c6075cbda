"""Kustomize patch files: fragments of objects, never documented as if they were whole ones."""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from llmgenie.core.models import Context, FileKind

__all__ = ["patch_files"]


def _paths(doc: dict[str, Any]) -> Iterator[str]:
    for key in ("patchesStrategicMerge", "patchesJson6902", "patches"):
        items = doc.get(key)
        for item in items if isinstance(items, list) else []:
            if isinstance(item, str) and "\n" not in item:
                yield item  # patchesStrategicMerge: a file name (or an inline patch)
            elif isinstance(item, dict) and isinstance(item.get("path"), str):
                yield item["path"]


def patch_files(root: Path, context: Context) -> set[str]:
    """The files (relative to `root`) the target's kustomizations use as patches."""
    out: set[str] = set()
    for f in context.files_of(FileKind.kustomization):
        try:
            doc = yaml.safe_load((root / f.path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(doc, dict):
            continue
        folder = posixpath.dirname(f.path)
        for ref in _paths(doc):
            rel = posixpath.normpath(posixpath.join(folder, ref))
            if not rel.startswith("../"):
                out.add(rel)
    return out
