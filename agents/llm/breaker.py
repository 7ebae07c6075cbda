"""Model endpoints that timed out in a task are not asked again in that task.

A local server on a CPU (llama.cpp, llama-cpp-python) generates one answer at a time and goes on
generating after the client gave up, so each retry queues behind the abandoned generation: a
tool-only run of seconds became eleven minutes. After the first timeout at an endpoint, every
later attempt of the same task at that endpoint fails at once with `unresponsive` (not retried),
and the step moves to the next executor saying why. Other tasks are not affected.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from llmgenie.agents.executors import ExecutorError

__all__ = ["check", "trip"]

_MAX_KEPT = 1024
_tripped: OrderedDict[tuple[str, str], str] = OrderedDict()
_lock = threading.Lock()


def trip(task_id: str | None, host: str, model_id: str) -> None:
    """`model_id` at `host` timed out in `task_id`: stop sending there for the rest of it."""
    if not task_id:
        return
    with _lock:
        _tripped.setdefault((task_id, host), model_id)
        while len(_tripped) > _MAX_KEPT:
            _tripped.popitem(last=False)


def check(task_id: str | None, host: str, model_id: str) -> None:
    """Raise `unresponsive` when `host` timed out earlier in `task_id`."""
    if not task_id:
        return
    with _lock:
        first = _tripped.get((task_id, host))
    if first is not None:
        raise ExecutorError(
            f"{model_id}: skipped: {first} timed out earlier in this task at {host}; "
            "not asked again",
            "unresponsive",
        )
