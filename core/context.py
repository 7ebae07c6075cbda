"""Wrapper stage 1, context analysis: walk a target and classify what is in it, within bounds.

Bounded in file count, bytes per file and time. Binary, non-UTF-8, unreadable and oversized files
are recorded as skipped with a reason; symlinks never lead out of the target.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

from llmgenie.core.models import Context, ContextFile, FileKind, SkippedFile, Target
from llmgenie.core.settings import Settings, get_settings
from llmgenie.core.targets import OpenedTarget, open_target

__all__ = ["analyze", "analyze_opened", "classify_file"]

_IGNORED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    ".terraform",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".idea",
}
_SNIFF_BYTES = 8192
_TIME_BUDGET_SECONDS = 120.0

_LANGUAGES = {
    ".py": "python",
    ".go": "go",
    ".js": "javascript",
    ".mjs": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".java": "java",
    ".kt": "kotlin",
    ".rb": "ruby",
    ".rs": "rust",
    ".cs": "csharp",
    ".php": "php",
    ".sh": "shell",
    ".c": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".scala": "scala",
    ".swift": "swift",
}
_DEPENDENCY_MANIFESTS = {
    "pyproject.toml",
    "pipfile",
    "setup.py",
    "setup.cfg",
    "package.json",
    "go.mod",
    "pom.xml",
    "build.gradle",
    "build.gradle.kts",
    "gemfile",
    "cargo.toml",
    "composer.json",
    "packages.config",
}
_DOC_SUFFIXES = {".md", ".rst", ".adoc", ".txt"}
_CONFIG_SUFFIXES = {
    ".yaml",
    ".yml",
    ".json",
    ".toml",
    ".ini",
    ".cfg",
    ".conf",
    ".env",
    ".properties",
}
_COMPOSE_RE = re.compile(r"^(docker-)?compose(\.[\w-]+)?\.ya?ml$", re.IGNORECASE)
_K8S_YAML_RE = re.compile(rb"^apiVersion\s*:", re.MULTILINE)
_K8S_KIND_RE = re.compile(rb"^kind\s*:", re.MULTILINE)
_K8S_JSON_RE = re.compile(rb'"apiVersion"\s*:')


def analyze(location: str, settings: Settings | None = None) -> Context:
    """Analyse a folder or single file in place (archives and S3 need `open_target`)."""
    settings = settings or get_settings()
    with open_target(location, settings) as opened:
        return analyze_opened(opened, settings)


def analyze_opened(opened: OpenedTarget, settings: Settings | None = None) -> Context:
    settings = settings or get_settings()
    return _Walker(opened.root, opened.target, settings).walk(
        only=opened.single_file, skipped=list(opened.skipped)
    )


class _Walker:
    def __init__(self, root: Path, target: Target, settings: Settings) -> None:
        self.root = root
        self.target = target
        self.settings = settings
        self.files: list[ContextFile] = []
        self.skipped: list[SkippedFile] = []
        self.chart_dirs: list[str] = []
        self.deadline = time.monotonic() + _TIME_BUDGET_SECONDS
        self.truncated = False

    def walk(self, only: str | None, skipped: list[SkippedFile]) -> Context:
        self.skipped = skipped
        if only is not None:
            if (self.root / only).exists():  # else its copy was refused, and said so already
                self._visit(self.root / only, only)
        else:
            for dirpath, dirnames, filenames in os.walk(self.root, followlinks=False):
                rel_dir = os.path.relpath(dirpath, self.root)
                rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/")
                dirnames[:] = sorted(self._keep_dir(dirpath, rel_dir, d) for d in dirnames)
                dirnames[:] = [d for d in dirnames if d]
                if "Chart.yaml" in filenames:
                    self.chart_dirs.append(rel_dir)
                for name in sorted(filenames):
                    if self._over_budget():
                        break
                    rel = f"{rel_dir}/{name}" if rel_dir else name
                    self._visit(Path(dirpath, name), rel)
                if self.truncated:
                    break
        languages = sorted({f.language for f in self.files if f.language})
        return Context(
            root=str(self.root),
            target=self.target,
            files=self.files,
            skipped=self.skipped,
            truncated=self.truncated,
            languages=languages,
        )

    def _over_budget(self) -> bool:
        if len(self.files) >= self.settings.max_files or time.monotonic() > self.deadline:
            self.truncated = True
        return self.truncated

    def _keep_dir(self, dirpath: str, rel_dir: str, name: str) -> str:
        if name in _IGNORED_DIRS:
            return ""
        full = os.path.join(dirpath, name)
        if os.path.islink(full):
            rel = f"{rel_dir}/{name}" if rel_dir else name
            self.skipped.append(SkippedFile(path=rel, reason="symlinked folder not followed"))
            return ""
        return name

    def _visit(self, path: Path, rel: str) -> None:
        if path.is_symlink():
            try:
                resolved = path.resolve(strict=True)
            except (OSError, RuntimeError):
                self.skipped.append(SkippedFile(path=rel, reason="broken symlink"))
                return
            if not resolved.is_relative_to(self.root):
                reason = "symlink points outside the target"
                self.skipped.append(SkippedFile(path=rel, reason=reason))
                return
        try:
            st = path.stat()
        except OSError as exc:
            self.skipped.append(SkippedFile(path=rel, reason=f"cannot stat: {exc.strerror}"))
            return
        if not path.is_file():
            self.skipped.append(SkippedFile(path=rel, reason="not a regular file"))
            return
        if st.st_size > self.settings.max_file_bytes:
            self.skipped.append(
                SkippedFile(
                    path=rel,
                    reason=f"{st.st_size / 1e6:.1f} MB, over the "
                    f"{self.settings.max_file_bytes / 1e6:.1f} MB per-file limit",
                )
            )
            return
        try:
            with path.open("rb") as fh:
                data = fh.read()
        except OSError as exc:
            self.skipped.append(SkippedFile(path=rel, reason=f"unreadable: {exc.strerror or exc}"))
            return
        if b"\x00" in data[:_SNIFF_BYTES]:
            self.skipped.append(SkippedFile(path=rel, reason="binary file"))
            return
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            self.skipped.append(
                SkippedFile(path=rel, reason=f"not UTF-8 text (invalid byte at offset {exc.start})")
            )
            return
        kind, language = classify_file(rel, data, self.chart_dirs)
        self.files.append(ContextFile(path=rel, kind=kind, size=st.st_size, language=language))


def classify_file(
    rel: str, data: bytes, chart_dirs: list[str] | tuple[str, ...] = ()
) -> tuple[FileKind, str | None]:
    """Say what kind of file this is, from its path and (for YAML/JSON) its content."""
    name = rel.rsplit("/", 1)[-1]
    lower = name.lower()
    suffix = os.path.splitext(lower)[1]
    for chart in chart_dirs:
        prefix = f"{chart}/" if chart else ""
        if rel.startswith(f"{prefix}templates/") or rel.startswith(f"{prefix}charts/"):
            return FileKind.helm_template, None
        if rel == f"{prefix}Chart.yaml":
            return FileKind.helm_chart, None
    if (
        lower == "dockerfile"
        or lower.startswith("dockerfile.")
        or lower.endswith(".dockerfile")
        or lower == "containerfile"
    ):
        return FileKind.dockerfile, None
    if _COMPOSE_RE.match(name):
        return FileKind.compose, None
    if lower in {"kustomization.yaml", "kustomization.yml", "kustomization"}:
        return FileKind.kustomization, None
    if suffix == ".tf" or lower.endswith(".tf.json"):
        return FileKind.terraform, None
    if _is_ci_config(rel, lower):
        return FileKind.ci_config, None
    if lower in _DEPENDENCY_MANIFESTS or (lower.startswith("requirements") and suffix == ".txt"):
        return FileKind.dependency_manifest, None
    if suffix in {".yaml", ".yml"}:
        if _K8S_YAML_RE.search(data) and _K8S_KIND_RE.search(data):
            return FileKind.kubernetes, None
        return FileKind.config, None
    if suffix == ".json":
        if _K8S_JSON_RE.search(data[:_SNIFF_BYTES]) and b'"kind"' in data[:_SNIFF_BYTES]:
            return FileKind.kubernetes, None
        return FileKind.config, None
    if suffix in _DOC_SUFFIXES or lower.startswith("readme"):
        return FileKind.doc, None
    if suffix in _LANGUAGES:
        return FileKind.source, _LANGUAGES[suffix]
    if suffix in _CONFIG_SUFFIXES:
        return FileKind.config, None
    return FileKind.other, None


def _is_ci_config(rel: str, lower: str) -> bool:
    return (
        rel.startswith(".github/workflows/")
        or lower
        in {
            ".gitlab-ci.yml",
            "jenkinsfile",
            "azure-pipelines.yml",
            "bitbucket-pipelines.yml",
            ".travis.yml",
        }
        or rel.startswith(".circleci/")
    )
