"""One shared LLM client per endpoint, each attempt metered on its own (agents/llm/metering.py).

Real CrewAI, the real `openai` client, real HTTP to the scripted server on loopback.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from llmgenie.agents.llm.metering import CallMeter, CapReached
from llmgenie.agents.llm.providers import make_llm, resolve_endpoint
from tests.agents.llm.conftest import API_KEY
from tests.support.openai_server import Reply, ScriptedModelServer

MESSAGES = [{"role": "user", "content": "say hi"}]


def _meter(seconds: float = 20.0, max_calls: int = 5) -> CallMeter:
    return CallMeter(
        model_id="openai/scripted",
        deadline=time.monotonic() + seconds,
        max_calls=max_calls,
        token_budget=None,
    )


def test_attempts_on_one_endpoint_share_one_client_and_a_new_key_gets_its_own(
    model_server: ScriptedModelServer, use_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_model(model_server, "openai/scripted")
    first = make_llm(resolve_endpoint("openai/scripted"), timeout=60.0)
    assert make_llm(resolve_endpoint("openai/scripted"), timeout=120.0) is first
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY + "-rotated")
    assert make_llm(resolve_endpoint("openai/scripted"), timeout=60.0) is not first


def test_a_call_outside_a_metered_attempt_is_refused_before_it_leaves(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    use_model(model_server, "openai/scripted")
    llm = make_llm(resolve_endpoint("openai/scripted"), timeout=60.0)
    with pytest.raises(Exception) as caught:
        llm.call(MESSAGES)
    causes = []
    error: BaseException | None = caught.value
    while error is not None:
        causes.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(c, CapReached) and "outside a metered attempt" in str(c) for c in causes)
    assert model_server.chat_requests() == []


def test_concurrent_attempts_on_the_shared_client_are_charged_to_their_own_meters(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    def respond(body: dict[str, Any]) -> Reply:  # the usage tells the attempts apart
        n = int(body["messages"][-1]["content"].split()[-1])
        return Reply.text(
            "hi",
            # no answer until all three attempts have a call in flight: they overlap
            hold=lambda: model_server.wait_for(3, what="a call of each attempt"),
            prompt_tokens=10 * n,
            completion_tokens=n,
        )

    model_server.responder = respond
    use_model(model_server, "openai/scripted")
    llm = make_llm(resolve_endpoint("openai/scripted"), timeout=60.0)
    meters = {n: _meter() for n in (1, 2, 3)}
    errors: list[BaseException] = []

    def attempt(n: int) -> None:
        try:
            with meters[n].metering():
                for _ in range(n):
                    llm.call([{"role": "user", "content": f"attempt {n}"}])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in meters]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    for n, meter in meters.items():
        assert meter.calls == n
        assert (meter.tokens.prompt, meter.tokens.completion) == (10 * n * n, n * n)


def test_a_hanging_request_ends_at_its_attempts_deadline(
    model_server: ScriptedModelServer, use_model: Any
) -> None:
    use_model(model_server, "openai/scripted")
    llm = make_llm(resolve_endpoint("openai/scripted"), timeout=60.0)
    with _meter().metering():
        llm.call(MESSAGES)  # connection and imports warm: what follows times the request only
    model_server.responder = lambda body: Reply(hang=True)
    started = time.monotonic()
    with _meter(seconds=1.0).metering(), pytest.raises(Exception, match=r"(?i)time"):
        llm.call(MESSAGES)
    assert time.monotonic() - started < 3.0  # the shared client's own ceiling is an hour
