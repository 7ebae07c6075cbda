"""Step progress for whoever watches a run in this process (the CLI's progress display)."""

from __future__ import annotations

from collections.abc import Callable

from llmgenie.core.models import AgentReport

__all__ = ["Listener", "listen", "notify"]

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
