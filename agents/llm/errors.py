"""Provider failures → the executor chain's error classes, with every secret masked.

429 → rate_limit, 5xx → server_error, timeouts → timeout, refused/reset → connection,
401/403 → auth, context-window errors → context_length, empty answers → empty_answer,
unparseable bodies or answers → bad_answer. Works on the `openai` and `anthropic` clients'
exceptions by their status codes and types, and on whatever CrewAI wraps them in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from llmgenie.agents.executors import ExecutorError
from llmgenie.core.audit import mask
from llmgenie.core.models import TokenUsage

__all__ = ["classify", "mask_secrets", "to_executor_error"]

_CONTEXT_LENGTH = re.compile(
    r"context[_ ]length|context window|maximum context|too many tokens|prompt is too long",
    re.IGNORECASE,
)


def mask_secrets(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secret values and anything that looks like a key masked."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, secret[:4] + "****")
    masked = mask(text)
    return masked if isinstance(masked, str) else text


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < 20:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend(x for x in (e.__cause__, e.__context__) if x is not None)


def classify(exc: BaseException) -> tuple[str, str]:
    """(error class, a short description) of a failed model call."""
    chain = list(_chain(exc))
    for e in chain:
        status = getattr(e, "status_code", None)
        if not isinstance(status, int):
            status = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(status, int):
            if status == 429:
                return "rate_limit", "HTTP 429 (rate limited)"
            if status in (401, 403):
                return "auth", f"HTTP {status} (the key was refused)"
            if status >= 500:
                return "server_error", f"HTTP {status}"
            if status == 400 and _CONTEXT_LENGTH.search(str(e)):
                return "context_length", "HTTP 400 (the prompt exceeds the context window)"
            if status == 413:
                return "context_length", "HTTP 413 (the prompt is too large)"
            if 400 <= status < 500:
                return "bad_request", f"HTTP {status}"
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain)
    if names & {"APITimeoutError", "ReadTimeout", "TimeoutException", "TimeoutError"} or (
        "timed out" in text.lower()
    ):
        return "timeout", "the model did not answer in time"
    if names & {
        "APIConnectionError",
        "ConnectError",
        "ConnectionRefusedError",
        "RemoteProtocolError",
    }:
        return "connection", "could not reach the model endpoint"
    if _CONTEXT_LENGTH.search(text) or "LLMContextLengthExceededError" in names:
        return "context_length", "the prompt exceeds the context window"
    if any(isinstance(e, json.JSONDecodeError) for e in chain):
        return "bad_answer", "the model endpoint sent a body that is not valid JSON"
    if "None or empty" in text or "empty response" in text.lower():
        return "empty_answer", "the model gave an empty answer"
    if "ConnectionError" in names:
        return "connection", "could not reach the model endpoint"
    return "bad_answer", f"{type(exc).__name__}: {str(exc)[:200]}"


def to_executor_error(
    exc: BaseException, model_id: str, secrets: Iterable[str], tokens: TokenUsage
) -> ExecutorError:
    error_class, description = classify(exc)
    return ExecutorError(
        mask_secrets(f"{model_id}: {description}", secrets), error_class, tokens=tokens
    )
