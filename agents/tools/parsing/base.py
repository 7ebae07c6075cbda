"""What every parser yields: a `Subject` the rules run over, or a `ParseProblem` saying why not."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ParseProblem", "Subject"]


class Subject:
    """The base of everything rules run over (a Kubernetes object, a Dockerfile, a text file…).

    A subject names the file it came from as `file`; one that honours inline suppressions
    overrides `is_suppressed` (findings it suppresses are counted, not reported).
    """

    file: str

    def is_suppressed(self, rule_id: str, line: int | None = None) -> bool:
        return False


@dataclass
class ParseProblem:
    """A file or document that could not be read as subjects, and why (a skipped-file entry)."""

    file: str
    reason: str
    line: int | None = None
