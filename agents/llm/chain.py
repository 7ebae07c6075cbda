"""One question to the model chain: each model in order until one gives an answer that is taken.

For the single-call uses of a model (BOSS's plan, an answer from the knowledge base), as the
specialists' crews have their own executor chain. Each model's attempt is metered at the
transport (its call budget and deadline), its failure is masked and classified like any other
model error, and it is audited as `model.called` with its purpose.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from llmgenie.agents.executors import ExecutorError
from llmgenie.agents.llm import breaker
from llmgenie.agents.llm.errors import mask_secrets, to_executor_error
from llmgenie.agents.llm.metering import CallMeter
from llmgenie.agents.llm.providers import make_llm, resolve_endpoint
from llmgenie.agents.llm.quiet import crew_output_suppressed
from llmgenie.agents.llm.telemetry import disable_telemetry
from llmgenie.core import audit
from llmgenie.core.models import TokenUsage

__all__ = ["Taken", "first_taken_answer"]

T = TypeVar("T")


@dataclass(frozen=True)
class Taken(Generic[T]):
    value: T
    model: str
    tokens: TokenUsage


def first_taken_answer(
    messages: list[dict[str, str]],
    model_chain: list[str],
    take: Callable[[str, str], T],
    *,
    purpose: str,
    actor: str,
    timeout: float,
    max_calls: int = 2,
    task_id: str | None = None,
) -> Taken[T]:
    """`take(answer_text, model_id)` of the first model whose answer it takes; `take` raises
    ExecutorError for an answer it cannot use, and the next model is asked. Raises
    ExecutorError naming every model's failure when none gives one."""
    disable_telemetry()
    failures: list[str] = []
    for model_id in model_chain:
        started = time.monotonic()
        meter = CallMeter(
            model_id=model_id,
            deadline=started + timeout,
            max_calls=max_calls,
            token_budget=None,
        )
        outcome = "failed"
        secrets: list[str] = []
        host = ""
        try:
            endpoint = resolve_endpoint(model_id)
            secrets, host = endpoint.secrets, endpoint.host
            breaker.check(task_id, host, model_id)
            try:
                with crew_output_suppressed():
                    llm = make_llm(endpoint, timeout=timeout)
                    with meter.metering():
                        answer = llm.call(messages)
            except (Exception, SystemExit) as exc:
                if meter.stopped is not None:  # our cap, which the client saw as a cut connection
                    error_class, reason = meter.stopped
                    raise ExecutorError(f"{model_id}: {reason}", error_class) from None
                raise to_executor_error(exc, model_id, secrets, meter.tokens) from None
            value = take(str(answer or ""), model_id)
            outcome = "succeeded"
            return Taken(value, model_id, meter.tokens)
        except ExecutorError as exc:
            if exc.error_class == "timeout":
                breaker.trip(task_id, host, model_id)
            message = mask_secrets(str(exc), secrets).removeprefix(f"{model_id}: ")
            failures.append(f"{model_id}: {message} ({exc.error_class})")
        finally:
            audit.record(
                "model.called",
                actor=actor,
                task_id=task_id,
                model=model_id,
                purpose=purpose,
                calls=meter.calls,
                tokens=meter.tokens.model_dump(),
                outcome=outcome,
                seconds=round(time.monotonic() - started, 3),
            )
    raise ExecutorError(
        f"no model gave an acceptable {purpose}: " + "; ".join(failures), "bad_answer"
    )
