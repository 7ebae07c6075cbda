"""Reports the metadata database did not take at the end of a run, kept until it answers again.

A finished task whose rows (task, steps, attempts, findings) could not be written leaves its
whole report as `LLMGENIE_HOME/spool/reports/{task_id}.json`; `Store.sync_reports` (run by
`llmgenie artifacts sync` and by every new task) stores it as if the run had just ended, then
deletes the file. See docs/decisions/0034-faults-leave-a-true-state.md.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from llmgenie.core.models import TaskReport
from llmgenie.core.storage.backends import atomic_write

__all__ = ["ReportSpool"]

_log = logging.getLogger("llmgenie.storage")


class ReportSpool:
    """One JSON file per report waiting for the database, named by its task id."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def path(self, task_id: str) -> Path:
        return self.root / f"{task_id}.json"

    def put(self, report: TaskReport) -> Path:
        path = self.path(report.task_id)
        atomic_write(path, report.model_dump_json().encode())
        return path

    def pending(self) -> Iterator[tuple[Path, TaskReport]]:
        """The spooled reports, oldest first; an unreadable file is logged and left in place."""
        if not self.root.is_dir():
            return
        files = sorted(self.root.glob("*.json"), key=lambda p: p.stat().st_mtime)
        for path in files:
            try:
                yield path, TaskReport.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                _log.error("spooled report %s is unreadable: %s", path, exc)

    def count(self) -> int:
        return len(list(self.root.glob("*.json"))) if self.root.is_dir() else 0
