"""Model ids (`provider/model`) → a CrewAI LLM talking to the right endpoint with the right key.

* `openai/<model>` — OpenAI, or any OpenAI-compatible server (vLLM, llama.cpp server, LM Studio,
  a gateway) when `OPENAI_BASE_URL` is set; key from `OPENAI_API_KEY`.
* `anthropic/<model>` — Anthropic's messages API; key from `ANTHROPIC_API_KEY`, endpoint from
  `ANTHROPIC_BASE_URL` when set.
* `ollama/<model>` — Ollama's OpenAI-compatible endpoint at `OLLAMA_HOST` (default
  `http://127.0.0.1:11434`); no key.

CrewAI routes an unknown `openai/<name>` to LiteLLM (not installed), so the provider is always
passed explicitly; OpenAI-compatible servers go through CrewAI's native OpenAI client.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from dataclasses import dataclass
from typing import Any

from llmgenie.agents.executors import ExecutorError
from llmgenie.core.settings import get_settings

__all__ = [
    "PROVIDER_NAMES",
    "ModelEndpoint",
    "import_sdk",
    "make_llm",
    "no_sdk_rate_limit_retries",
    "resolve_endpoint",
]

PROVIDER_NAMES: tuple[str, ...] = ("openai", "anthropic", "ollama")

_DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"
#: Ollama wants no key; its OpenAI-compatible endpoint is given this word. Not a secret: masked,
#: it mangled every "ollama/…" model name in messages.
_OLLAMA_KEY = "ollama"


@dataclass(frozen=True)
class ModelEndpoint:
    """Where one model lives. `api_key` is a secret: never in a message, log or report."""

    model_id: str
    provider: str  # the CrewAI native provider: openai | anthropic
    model: str
    base_url: str | None
    api_key: str
    #: the output cap sent with every request (`max_tokens`): a local server without one
    #: generates until its context is full
    max_tokens: int = 4096

    def __repr__(self) -> str:  # keep the key out of any accidental repr
        return f"ModelEndpoint({self.model_id!r}, base_url={self.base_url!r})"

    @property
    def secrets(self) -> list[str]:
        """The values to mask in messages: the key, unless it is Ollama's placeholder."""
        return [] if self.api_key == _OLLAMA_KEY else [self.api_key]

    @property
    def metered_at_transport(self) -> bool:
        """Whether our transport interceptor can meter it (Anthropic's SDK uses its own httpx)."""
        return self.provider != "anthropic"

    @property
    def host(self) -> str:
        return self.base_url or (
            "https://api.anthropic.com"
            if self.provider == "anthropic"
            else "https://api.openai.com"
        )


def resolve_endpoint(model_id: str) -> ModelEndpoint:
    """Read the provider's usual variables now (they may change between tasks)."""
    endpoint = _endpoint(model_id)
    return dataclasses.replace(endpoint, max_tokens=get_settings().max_tokens_for(model_id))


def _endpoint(model_id: str) -> ModelEndpoint:
    provider, _, model = model_id.partition("/")
    if not model:
        raise ExecutorError(f"model {model_id!r} is not of the form provider/model", "config")
    if provider == "openai":
        base_url = os.environ.get("OPENAI_BASE_URL") or None
        key = os.environ.get("OPENAI_API_KEY") or ""
        if not key:
            if base_url is None:
                raise ExecutorError("OPENAI_API_KEY is not set", "auth")
            key = "unused"  # local OpenAI-compatible servers take any key
        return ModelEndpoint(model_id, "openai", model, base_url, key)
    if provider == "anthropic":
        key = os.environ.get("ANTHROPIC_API_KEY") or ""
        if not key:
            raise ExecutorError("ANTHROPIC_API_KEY is not set", "auth")
        return ModelEndpoint(
            model_id, "anthropic", model, os.environ.get("ANTHROPIC_BASE_URL") or None, key
        )
    if provider == "ollama":
        host = (os.environ.get("OLLAMA_HOST") or _DEFAULT_OLLAMA_HOST).rstrip("/")
        if "://" not in host:
            host = f"http://{host}"
        return ModelEndpoint(model_id, "openai", model, f"{host}/v1", _OLLAMA_KEY)
    raise ExecutorError(f"unknown model provider {provider!r}", "config")


def make_llm(endpoint: ModelEndpoint, *, timeout: float) -> Any:
    """A CrewAI LLM for the endpoint: no client-side retries (the chain retries), a timeout.

    Endpoints metered at the transport share one LLM per endpoint in the process: its clients,
    TLS contexts and connection pool are built once (~60 ms of CPU each time), not per attempt.
    Each attempt binds its meter with `CallMeter.metering()`; the shared interceptor charges it,
    cuts each request's timeouts to the attempt's deadline (`timeout` is that deadline's length)
    and refuses a call made outside an attempt. The others (Anthropic) get a fresh LLM with
    `timeout`, metered by CrewAI's hook on that object.
    """
    no_sdk_rate_limit_retries()
    if not endpoint.metered_at_transport:
        return _new_llm(endpoint, timeout, interceptor=None)
    with _shared_lock:
        llm = _shared.pop(endpoint, None)
        if llm is None:
            from llmgenie.agents.llm.metering import interceptor

            llm = _new_llm(endpoint, _SHARED_CLIENT_TIMEOUT, interceptor=interceptor())
        _shared[endpoint] = llm  # most recently used last
        while len(_shared) > _MAX_SHARED:
            del _shared[next(iter(_shared))]
    return llm


#: LLMs shared by attempts, by endpoint; the endpoint holds the key, so a rotated key gets a new
#: client
_shared: dict[ModelEndpoint, Any] = {}
_shared_lock = threading.Lock()
_MAX_SHARED = 16
#: the client's own ceiling; the interceptor cuts every request to its attempt's deadline
_SHARED_CLIENT_TIMEOUT = 3600.0


def no_sdk_rate_limit_retries() -> None:
    """CrewAI retries 429s itself, sleeping between tries, inside our attempt's deadline (which
    then ends the attempt as a cut connection): the chain retries, visibly. Per context."""
    try:
        from crewai.llms import retry

        retry._active_llm_rate_limit_retry.set(True)
    except (ImportError, AttributeError):
        pass


def import_sdk() -> None:
    """Import CrewAI, which `make_llm` and the executor otherwise import on first use."""
    import crewai
    import crewai.tools  # noqa: F401


def _new_llm(endpoint: ModelEndpoint, timeout: float, *, interceptor: Any) -> Any:
    from crewai import LLM

    kwargs: dict[str, Any] = {
        "provider": endpoint.provider,
        "api_key": endpoint.api_key,
        "timeout": timeout,
        "max_retries": 0,
    }
    if endpoint.provider != "anthropic":
        kwargs["temperature"] = 0.0
    if endpoint.base_url:
        kwargs["base_url"] = endpoint.base_url
    if interceptor is not None:
        kwargs["interceptor"] = interceptor
    kwargs["max_tokens"] = endpoint.max_tokens
    return LLM(model=endpoint.model, **kwargs)
