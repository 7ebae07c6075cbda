"""Tracing, when asked for: OpenTelemetry spans over OTLP/HTTP for tasks, steps, stages, tools
and executor attempts (model calls), only when `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set. Unset, nothing is imported and nothing is sent.

Spans carry ids, names and counts (`llmgenie.task_id`, `llmgenie.step_id`, the agent, the
executor, findings and tokens), never the task's words, the target's location or its content.
The tracer is llmgenie's own, not the global one: Prefect's and CrewAI's instrumentation stay
off. It is made once per process as the flows load, before llmgenie silences CrewAI (which
sets `OTEL_SDK_DISABLED`); an `OTEL_SDK_DISABLED=true` set by the user still turns it off.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["ENDPOINT_VARIABLES", "enabled", "span"]

#: Either turns tracing on (the second names the full URL of the traces endpoint).
ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _make_tracer() -> Any:
    if not any(os.environ.get(name) for name in ENDPOINT_VARIABLES):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": "llmgenie"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider.get_tracer("llmgenie")


_TRACER = _make_tracer()


def enabled() -> bool:
    return _TRACER is not None


@contextmanager
def span(name: str, **attributes: str | int | float | bool | None) -> Iterator[Any]:
    """A span named `name` around the block, a child of the current one; `None` attributes
    are left out. Yields the span (or None when tracing is off) for attributes learnt later."""
    if _TRACER is None:
        yield None
        return
    from opentelemetry.trace import Status, StatusCode

    given = {f"llmgenie.{k}": v for k, v in attributes.items() if v is not None}
    # an exception's message may quote what it read: the span keeps its type only
    with _TRACER.start_as_current_span(
        name, attributes=given, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except BaseException as exc:
            current.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
