"""Step progress for whoever watches a run in this process: the CLI's progress display, the
REST API's event stream.

BOSS sets `current_task` as it starts; the steps it runs inherit it (asyncio copies context
into the tasks it creates), so a listener serving several tasks (the REST API) can tell whose
step an event is with `task_of_event()`.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar

from llmgenie.core.models import AgentReport

__all__ = ["Listener", "current_task", "listen", "notify", "task_of_event"]

current_task: ContextVar[str | None] = ContextVar("llmgenie_progress_task", default=None)


def task_of_event() -> str | None:
    """Inside a listener: the task whose step the event is about (None outside BOSS)."""
    return current_task.get()


Listener = Callable[[str, str, AgentReport | None], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Call `listener(step_id, event, report)` on 'started', 'finished' and 'dropped' (a step
    started before the final plan, which does not keep it); returns unsubscribe."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


def notify(step_id: str, event: str, report: AgentReport | None = None) -> None:
    for listener in list(_listeners):
        listener(step_id, event, report)
