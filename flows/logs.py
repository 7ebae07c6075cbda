"""llmgenie's log lines in the Prefect run they belong to, so the UI's Logs tab tells the run.

`install_run_logs()` (the flow modules call it) adds a sink to `core.logging` and a handler to
the stdlib `llmgenie` loggers. A line from INFO up written inside a flow or task run goes to
that run's logs through Prefect's `APILogHandler` (batched in the background, like Prefect's
own run logs); a line written outside any run goes nowhere but the console. Lines are redacted
by `core.logging.redact` before they leave the process. See docs/decisions/0025.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any
from uuid import UUID

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler

from llmgenie.core import logging as log_setup
from llmgenie.core.logging import SINK_LEVEL, add_sink
from llmgenie.core.models import SkippedFile

__all__ = ["RunLogHandler", "format_event", "install_run_logs", "log_skipped"]

#: The fields every line of a run carries (`bind_run`): the run already says them.
_RUN_FIELDS = ("task_id", "step", "agent", "flow_run_id", "timestamp", "level", "event")


class RunLogHandler(APILogHandler):
    """Prefect's API log handler for llmgenie's lines: those of no run are dropped quietly
    (Prefect's own warns or raises), and every message passes `redact` first."""

    def emit(self, record: logging.LogRecord) -> None:
        record = logging.makeLogRecord(record.__dict__)  # the console's copy stays as it was
        if not _link_to_run(record):
            return
        record.msg, record.args = log_setup.redact(record.getMessage()), None
        super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:
        """A line that cannot reach Prefect (the API is gone, the process is exiting and a
        timed-out step's thread still logs) is dropped: the console has it, and a traceback
        on stderr for it would say nothing to the user."""


_handler = RunLogHandler(level=SINK_LEVEL)


def install_run_logs() -> None:
    """Send llmgenie's log lines of a run to that run's Prefect logs (idempotent)."""
    add_sink(_structlog_sink)
    stdlib = logging.getLogger("llmgenie")
    if _handler not in stdlib.handlers:
        stdlib.addHandler(_handler)


def format_event(event: MutableMapping[str, Any]) -> str:
    """`event: key=value …`, the run fields left out (the run says them)."""
    fields = [f"{k}={_value(v)}" for k, v in event.items() if k not in _RUN_FIELDS]
    text = str(event.get("event", ""))
    return f"{text}: {' '.join(fields)}" if fields else text


def log_skipped(log: Any, skipped: list[SkippedFile], limit: int = 20) -> None:
    """One INFO line per file left out and why, the first `limit` of them, then a count."""
    for item in skipped[:limit]:
        log.info("file skipped", path=item.path, reason=item.reason)
    if len(skipped) > limit:
        log.info("more files skipped", count=len(skipped) - limit)


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items()) or "-"
    if isinstance(value, list | tuple):
        return ",".join(_value(v) for v in value) or "-"
    text = str(value)
    return repr(text) if not text or any(c.isspace() or c in "='\"" for c in text) else text


def _structlog_sink(level: int, event: MutableMapping[str, Any]) -> None:
    record = logging.LogRecord(
        name="llmgenie", level=level, pathname="", lineno=0, msg=format_event(event),
        args=None, exc_info=None,
    )  # fmt: skip
    bound = event.get("flow_run_id")
    if bound:
        record.flow_run_id = bound
    _handler.handle(record)


def _link_to_run(record: logging.LogRecord) -> bool:
    """Name the flow run (and task run) of the line on the record; False when there is none.

    The run Prefect is running here wins over the bound `flow_run_id`: a subflow run in
    process starts with its parent's fields bound until it binds its own.
    """
    task_run = TaskRunContext.get()
    flow_run = FlowRunContext.get()
    if flow_run is not None and flow_run.flow_run is not None:
        record.flow_run_id = flow_run.flow_run.id
        if task_run is not None and task_run.task_run.flow_run_id == flow_run.flow_run.id:
            record.task_run_id = task_run.task_run.id
        return True
    if task_run is not None:
        record.flow_run_id = task_run.task_run.flow_run_id
        record.task_run_id = task_run.task_run.id
        return True
    bound = getattr(record, "flow_run_id", None)
    if isinstance(bound, UUID):
        return True
    try:
        record.flow_run_id = UUID(str(bound))
    except ValueError:
        return False
    return True
