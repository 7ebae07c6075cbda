"""Metering of model calls at the HTTP transport: one `CallMeter` per attempt.

A meter counts an attempt's calls and tokens and stops it at its caps (call budget, wall-clock
deadline, token budget, a step BOSS dropped). The transport's interceptor is shared by every
LLM client of the process (see `providers.make_llm`): it charges the meter of the attempt bound
with `CallMeter.metering()`, bounds each request's timeouts by that attempt's deadline (so a
hanging connection ends when the attempt's time does), and refuses a call made outside any
attempt.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from llmgenie.agents.llm.guard import READ_ONLY_TOOLS, ToolGuard
from llmgenie.core.models import TokenUsage

__all__ = ["CallMeter", "CapReached", "interceptor"]


class CapReached(Exception):
    """Raised in the transport when a cap is reached; the meter holds the class and reason."""


@dataclass
class CallMeter:
    """Counts calls and tokens of one attempt at the HTTP transport, and stops it at its caps.

    Also notices tool calls the model asks for that it was never offered (planted instructions,
    fake tool-call syntax) and records them on the guard.
    """

    model_id: str
    deadline: float
    max_calls: int
    token_budget: int | None
    guard: ToolGuard | None = None
    #: BOSS dropped the step: no further model call
    dropped: threading.Event | None = None
    calls: int = 0
    tokens: TokenUsage = field(default_factory=TokenUsage)
    stopped: tuple[str, str] | None = None
    #: the tools the last answer asked for (a model still calling tools at its last turn loops)
    last_tool_calls: list[str] = field(default_factory=list)
    #: the names of the tools this attempt offered the model; None: not known (no tools)
    offered: frozenset[str] | None = None
    #: the estimated prompt tokens of the request awaiting its answer (an attempt's calls are
    #: one after another)
    _pending_prompt: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def metering(self) -> Iterator[CallMeter]:
        """Make this meter the one the shared interceptor charges, in this context (and the
        threads and tasks CrewAI starts from it, which copy the context)."""
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)

    def _stop(self, error_class: str, reason: str) -> CapReached:
        with self._lock:
            if self.stopped is None:
                self.stopped = (error_class, reason)
        return CapReached(reason)

    def before_call(self) -> None:
        with self._lock:
            calls, used = self.calls, self.tokens.total
        if self.dropped is not None and self.dropped.is_set():
            raise self._stop("dropped", f"step dropped from the plan after {calls} call(s)")
        if time.monotonic() >= self.deadline:
            raise self._stop("timeout", f"wall-clock cap reached after {calls} model call(s)")
        if calls >= self.max_calls:
            raise self._stop("iteration_limit", f"iteration cap reached ({calls} model calls)")
        if self.token_budget is not None and used >= self.token_budget:
            raise self._stop("budget", f"token budget exhausted ({used}/{self.token_budget})")
        with self._lock:
            self.calls += 1

    def charge_prompt(self, estimate: int) -> None:
        """Count a request's prompt as sent, estimated: a server that never answers (or answers
        without `usage`) still read it. `after_call` replaces the estimate with the usage."""
        with self._lock:
            self.tokens = self.tokens + TokenUsage(prompt=estimate)
            self._pending_prompt = estimate

    def after_call(self, response: Any) -> None:
        with self._lock:
            estimate, self._pending_prompt = self._pending_prompt, 0
        if response.status_code != 200:
            return  # an error answer: the estimate stands (the server may have read the prompt)
        try:
            data = json.loads(response.read())
        except (ValueError, UnicodeDecodeError):
            return  # the client reports the malformed body itself
        usage = data.get("usage") or {}
        prompt = usage.get("prompt_tokens", usage.get("input_tokens"))
        completion = usage.get("completion_tokens", usage.get("output_tokens"))
        if prompt is None:
            prompt = estimate
        if completion is None:
            completion = _estimate_tokens(json.dumps(_answer_parts(data)))
        with self._lock:
            self.tokens = TokenUsage(
                prompt=self.tokens.prompt - estimate + int(prompt),
                completion=self.tokens.completion + int(completion),
            )
        requested = _requested_tools(data)
        with self._lock:
            self.last_tool_calls = requested
        if self.guard is not None:
            for name in requested:
                if name not in READ_ONLY_TOOLS:
                    self.guard.deny(name, "not a tool this agent has (read-only tools only)")
                elif self.offered is not None and name not in self.offered:
                    self.guard.deny(name, "not offered to this step (its capabilities)")


def _estimate_tokens(text: str | bytes) -> int:
    """About four characters a token, as the providers' own rules of thumb say."""
    return max(1, len(text) // 4) if text else 0


def _answer_parts(data: dict[str, Any]) -> list[Any]:
    """What the model wrote: the messages of an OpenAI answer, the content of Anthropic's."""
    return [c.get("message") for c in data.get("choices") or []] + list(data.get("content") or [])


def _requested_tools(data: dict[str, Any]) -> list[str]:
    names = []
    for choice in data.get("choices") or []:  # OpenAI chat completions
        for call in (choice.get("message") or {}).get("tool_calls") or []:
            names.append(str((call.get("function") or {}).get("name", "")))
    for block in data.get("content") or []:  # Anthropic messages
        if isinstance(block, dict) and block.get("type") == "tool_use":
            names.append(str(block.get("name", "")))
    return names


_ACTIVE: ContextVar[CallMeter | None] = ContextVar("llmgenie_call_meter", default=None)


def _active_meter() -> CallMeter:
    meter = _ACTIVE.get()
    if meter is None:  # fail closed: every model call belongs to a metered attempt
        raise CapReached("a model call outside a metered attempt was refused")
    return meter


def _charged(request: Any) -> Any:
    """Charge the attempt for this request and cut its timeouts to the attempt's time left."""
    meter = _active_meter()
    meter.before_call()
    meter.charge_prompt(_estimate_tokens(request.content if _has_body(request) else b""))
    left = max(meter.deadline - time.monotonic(), _MIN_REQUEST_SECONDS)
    timeouts = dict(request.extensions.get("timeout") or {})
    for kind in ("connect", "read", "write", "pool"):
        current = timeouts.get(kind)
        timeouts[kind] = left if current is None else min(current, left)
    request.extensions["timeout"] = timeouts
    return request


def _has_body(request: Any) -> bool:
    try:
        request.content  # noqa: B018 - raises for a streamed body not read yet
    except Exception:
        return False
    return True


#: a request gets at least this long: the deadline was checked by `before_call` just now
_MIN_REQUEST_SECONDS = 0.05


@cache
def interceptor() -> Any:
    """The process's one transport interceptor: charges the active attempt's meter."""
    from crewai.llms.hooks.base import BaseInterceptor

    class _Metering(BaseInterceptor[Any, Any]):
        def on_outbound(self, message: Any) -> Any:
            return _charged(message)

        def on_inbound(self, message: Any) -> Any:
            _active_meter().after_call(message)
            return message

        async def aon_outbound(self, message: Any) -> Any:
            return _charged(message)

        async def aon_inbound(self, message: Any) -> Any:
            await message.aread()
            _active_meter().after_call(message)
            return message

    return _Metering()
