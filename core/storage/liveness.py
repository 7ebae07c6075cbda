"""Liveness of running tasks: a heartbeat thread per task, and telling a dead task from a live one.

A `running` row on this host whose process is gone (or whose pid was reused) is interrupted; a
row from another host (another pod) is when its heartbeat is older than `stale_after`.
Whoever ran the task's flows learns of it through `on_interrupted` (flows/crashed.py sets the
Prefect runs Crashed: this layer does not know Prefect).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from llmgenie.core.models import TaskStatus, utcnow
from llmgenie.core.storage.db import transaction
from llmgenie.core.storage.tables import TaskRow

__all__ = ["Interrupted", "Liveness", "on_interrupted", "pid_alive", "process_start"]

_log = logging.getLogger("llmgenie.storage")

#: A task just marked interrupted: its id and its BOSS flow run's id (None if it had none).
Interrupted = tuple[str, str | None]

_listeners: list[Callable[[list[Interrupted]], None]] = []


def on_interrupted(listener: Callable[[list[Interrupted]], None]) -> None:
    """Call `listener` with the tasks each sweep marks interrupted (once per listener)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _tell(gone: list[Interrupted]) -> None:
    for listener in list(_listeners):
        try:
            listener(gone)
        except Exception as exc:  # the row is already true; a view of it lagging is not fatal
            _log.warning("interrupted tasks not passed on: %s", exc)


def process_start(pid: int) -> str | None:
    """Kernel start time of a process (Linux), so a reused pid is not mistaken for ours."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped) is gone for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in {"Z", "X"}


class Liveness:
    """Heartbeats of the tasks this process runs, and the sweep that marks dead ones."""

    def __init__(
        self,
        engine: Engine,
        *,
        stale_after: timedelta = timedelta(minutes=10),
        heartbeat_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.stale_after = stale_after
        self.heartbeat_seconds = heartbeat_seconds
        self.hostname = socket.gethostname()
        self._beating: dict[str, threading.Event] = {}

    def claim(self, row: TaskRow) -> None:
        """Mark a task row as running in this process, beating now."""
        pid = os.getpid()
        row.heartbeat_at = utcnow()
        row.pid = pid
        row.hostname = self.hostname
        row.process_start = process_start(pid)

    def start(self, task_id: str) -> None:
        """A daemon thread beats while the task runs here; it dies with the process."""
        stop = threading.Event()
        old = self._beating.pop(task_id, None)
        if old is not None:
            old.set()
        self._beating[task_id] = stop

        def beat() -> None:
            while not stop.wait(self.heartbeat_seconds):
                try:
                    self.beat(task_id)
                except Exception as exc:  # a missed beat is not worth failing the task for
                    _log.warning("heartbeat of task %s failed: %s", task_id, exc)

        threading.Thread(target=beat, name=f"llmgenie-heartbeat-{task_id[:8]}", daemon=True).start()

    def stop(self, task_id: str) -> None:
        stop = self._beating.pop(task_id, None)
        if stop is not None:
            stop.set()

    def stop_all(self) -> None:
        for stop in self._beating.values():
            stop.set()
        self._beating.clear()

    def beat(self, task_id: str) -> None:
        """Tell other hosts this task is still alive."""
        transaction(
            self.engine,
            lambda s: s.execute(
                update(TaskRow).where(TaskRow.id == task_id).values(heartbeat_at=utcnow())
            ),
        )

    def mark_interrupted(self) -> list[str]:
        """Rows still `running` whose process is gone become `interrupted`; returns their ids."""
        now = utcnow()

        def tx(s: Session) -> list[Interrupted]:
            rows = s.scalars(select(TaskRow).where(TaskRow.status == TaskStatus.running.value))
            gone = []
            for row in rows:
                reason = self._why_gone(row, now)
                if reason:
                    row.status = TaskStatus.interrupted.value
                    row.notes = [*(row.notes or []), f"interrupted: {reason}"]
                    gone.append((row.id, row.flow_run_id))
            return gone

        gone = transaction(self.engine, tx)
        if gone:
            _tell(gone)
        return [task_id for task_id, _ in gone]

    def _why_gone(self, row: TaskRow, now: datetime) -> str | None:
        if row.hostname == self.hostname and row.pid is not None:
            if not pid_alive(row.pid):
                return f"process {row.pid} on {row.hostname} is gone"
            start = process_start(row.pid)
            if row.process_start and start and start != row.process_start:
                return f"process {row.pid} on {row.hostname} is gone (pid reused)"
            return None
        seen = row.heartbeat_at or row.started_at or row.created_at
        if seen is not None and now - seen > self.stale_after:
            return f"no heartbeat from {row.hostname or 'its host'} since {seen.isoformat()}"
        return None
