"""The subject of `"text"` rules: one text file of the target, read when first asked."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from llmgenie.core.models import FileKind

from .base import Subject

__all__ = ["TextFile"]


@dataclass
class TextFile(Subject):
    """One text file of the target (every file kind; read lazily, replacing bad UTF-8)."""

    path: Path
    file: str
    kind: FileKind
    _text: str | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.path.read_text(encoding="utf-8", errors="replace")
        return self._text

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()
