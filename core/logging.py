"""Structured logs with structlog: console by default, JSON with LLMGENIE_LOG_FORMAT=json.

Every line of a run carries task_id, step, agent and flow_run_id: the flows bind them with
`bind_run(...)` (context variables, so concurrent steps keep their own values).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from llmgenie.core.settings import Settings, get_settings

__all__ = ["bind_run", "configure_logging", "get_logger"]

_configured = False


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
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=_stderr_logger,
        cache_logger_on_first_use=False,
    )
    _configured = True


def _stderr_logger(*_args: Any) -> structlog.PrintLogger:
    # Looked up per logger, not once: tests and tools swap sys.stderr after configuration.
    return structlog.PrintLogger(file=sys.stderr)


def get_logger(name: str | None = None) -> Any:
    configure_logging()
    return structlog.get_logger(name)


def bind_run(**fields: Any) -> None:
    """Bind run fields (task_id, step, agent, flow_run_id) to every later log line here."""
    structlog.contextvars.bind_contextvars(**{k: v for k, v in fields.items() if v is not None})
