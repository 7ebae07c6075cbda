"""The tasks BOSS runs in this process, by task id: what its in-process specialist steps share.

BOSS registers a task's session while the task runs (`register`, then `drop`); a specialist
step looks its task up (`get`). A step that finds no session runs on a worker elsewhere and
opens the target itself. Nothing else reads or writes the registry.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from pathlib import Path

from llmgenie.core.models import AgentReport, Context

__all__ = ["TaskSession", "drop", "get", "register"]


@dataclass
class TaskSession:
    """What BOSS already analysed, shared with in-process subflows (workers re-analyse).

    `publishing` collects the steps' Prefect-artifact uploads: in process a step hands them to
    BOSS, which awaits them all before it finishes, instead of waiting on them itself.
    """

    root: Path
    context: Context
    publishing: list[asyncio.Task[None]] = field(default_factory=list)
    #: per step: set when BOSS drops a step it started before the final plan was known
    drops: dict[str, threading.Event] = field(default_factory=dict)
    #: the finished steps' reports, by step id: what in-process dependents read
    reports: dict[str, AgentReport] = field(default_factory=dict)

    def drop_signal(self, step_id: str) -> threading.Event:
        return self.drops.setdefault(step_id, threading.Event())


_sessions: dict[str, TaskSession] = {}
_lock = threading.Lock()


def register(task_id: str, session: TaskSession) -> TaskSession:
    """Make `session` task `task_id`'s in this process, until `drop(task_id)`; returns it."""
    with _lock:
        if task_id in _sessions:
            raise ValueError(f"task {task_id} already runs in this process")
        _sessions[task_id] = session
    return session


def get(task_id: str) -> TaskSession | None:
    """Task `task_id`'s session when BOSS runs it in this process, else None (a worker)."""
    return _sessions.get(task_id)


def drop(task_id: str) -> None:
    """Task `task_id` has ended here: its steps no longer find a session."""
    with _lock:
        _sessions.pop(task_id, None)
