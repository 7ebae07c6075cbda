"""Structured logs with structlog: console by default, JSON with LLMGENIE_LOG_FORMAT=json.

Every line of a run carries task_id, step, agent and flow_run_id: the flows bind them with
`bind_run(...)` (context variables, so concurrent steps keep their own values). The console
shows LLMGENIE_LOG_LEVEL and up; lines from INFO up also go to the sinks other layers add with
`add_sink` (the flows send them to the Prefect run's logs), after `redact`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Callable, MutableMapping
from typing import Any

import structlog

from llmgenie.core.redact import redact as redact_text
from llmgenie.core.settings import Settings, get_settings

__all__ = [
    "SINK_LEVEL",
    "Sink",
    "add_sink",
    "bind_run",
    "configure_logging",
    "get_logger",
    "redact",
]

#: Receives each log line from INFO up, its fields redacted: (level number, event dict).
Sink = Callable[[int, MutableMapping[str, Any]], None]

#: The lowest level a sink receives, whatever the console shows.
SINK_LEVEL = logging.INFO

_configured = False
_sinks: list[Sink] = []


def redact(text: str) -> str:
    """The one place a secret is taken out of a log line, before the console, the JSON log or
    a sink (the Prefect UI) sees it. Every line goes through here: structlog events field by
    field (`_redact_fields`), and the stdlib records the flows forward to Prefect. It is the
    one redaction of `llmgenie.core.redact` (the secret detector's)."""
    return redact_text(text)


def add_sink(sink: Sink) -> None:
    """Send every later log line from INFO up to `sink` as well (added once)."""
    if sink not in _sinks:
        _sinks.append(sink)


def configure_logging(settings: Settings | None = None, *, force: bool = False) -> None:
    global _configured
    if _configured and not force:
        return
    settings = settings or get_settings()
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.WARNING)
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            _redact_fields,
            _to_sinks,
            _console_level(level),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(min(level, SINK_LEVEL)),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _redact_records()  # every standard-library record too (Prefect's own run logs included)
    _configured = True


_factory_lock = threading.Lock()
_factory_installed = False


def _redact_records() -> None:
    """Redact each standard-library log record's message as it is made, whichever logger and
    handler it goes to (Prefect ships its own records to its API). Once per process."""
    global _factory_installed
    with _factory_lock:
        if _factory_installed:
            return
        make = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = make(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a broken format string is the logging module's to report
                return record
            cleaned = redact(message)  # looked up per record: the one hook
            if cleaned != message:
                record.msg, record.args = cleaned, None
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed = True


def _redact_fields(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)  # looked up per line: the one hook
    return event


def _to_sinks(
    _logger: Any, method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    number = _level_number(method)
    if number >= SINK_LEVEL:
        for sink in _sinks:
            # a sink (the Prefect UI) is a view: a failing one must not cost the line
            with contextlib.suppress(Exception):
                sink(number, dict(event))
    return event


def _console_level(level: int) -> Callable[[Any, str, MutableMapping[str, Any]], Any]:
    def keep(_logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        if _level_number(method) < level:
            raise structlog.DropEvent
        return event

    return keep


def _level_number(method: str) -> int:
    name = "WARNING" if method == "warn" else "ERROR" if method == "exception" else method
    return logging.getLevelNamesMapping().get(name.upper(), logging.INFO)


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # Looked up per logger, not once: tests and tools swap sys.stderr after configuration.
    return structlog.PrintLogger(file=sys.stderr)


def get_logger(name: str | None = None) -> Any:
    configure_logging()
    return structlog.get_logger(name)


def bind_run(**fields: Any) -> None:
    """Bind run fields (task_id, step, agent, flow_run_id) to every later log line here."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in fields.items() if v is not None})
