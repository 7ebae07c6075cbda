"""One redaction for everything llmgenie writes: target secrets become `****` plus a hint.

Built on the secret detector (`llmgenie.core.secrets`), so what the `secret.*` rules report is
what redaction removes. Two sources of values:

* the text itself: `redact(text)` runs the detector over it (a password in a README passage,
  a token in a log line);
* what the detector found earlier in this process (`core.secrets.seen_pattern`): a value seen
  once in a target file is removed wherever it turns up again, even where its context is gone
  (a patch's context line `value: …` without the `- name: DB_PASSWORD` above it, a catalogue
  cell).

The boundaries call it: step reports (`redact_model`), patches, rendered reports, Prefect
artifacts, knowledge-base passages, log lines (`core.logging`, through `redact`),
and stored prompts. See docs/security.md and docs/decisions/0027-one-redaction.md.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

from llmgenie.core.secrets import SecretMatch, find_secrets, mask, seen_pattern

__all__ = [
    "redact",
    "redact_data",
    "redact_event",
    "redact_model",
]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

_MIN_TEXT = 8  # no secret worth the name fits in fewer characters


def _values(matches: Iterable[SecretMatch]) -> set[str]:
    return {v.strip() for m in matches for v in (m.value, *m.more) if v.strip()}


def redact(text: str, source: str = "text", also: Iterable[SecretMatch] = ()) -> str:
    """`text` with every secret in it replaced by its mask.

    Secrets are what the detector finds in `text` (read as the file `source`, whose name picks
    the patterns), `also` (found elsewhere, e.g. in the file a patch was made from), and what
    the detector found earlier in this process."""
    if len(text) < _MIN_TEXT:
        return text
    text = _redact_found(text, source)
    also_values = {v for v in _values(also) if v in text}
    for value in sorted(also_values, key=len, reverse=True):
        text = text.replace(value, mask(value))
    known = seen_pattern()
    if known is not None:
        text = known.sub(lambda m: mask(m.group(0)), text)
    return text


@functools.lru_cache(maxsize=4096)
def _redact_found(text: str, source: str) -> str:
    """`text` with what the detector finds in it masked (a pure function: reports repeat the
    same rule messages thousands of times)."""
    values = _values(find_secrets(source, text.splitlines()))
    for value in sorted(values, key=len, reverse=True):
        text = text.replace(value, mask(value))
    return text


def redact_data(value: T) -> T:
    """Every string inside `value` (dicts, lists, tuples, models) redacted; the same shape."""
    return _walk(value)  # type: ignore[no-any-return]


def _walk(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, BaseModel):
        return redact_model(value)
    if isinstance(value, Mapping):
        return {k: _walk(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_walk(v) for v in value)
    return value


def redact_model(model: M) -> M:
    """A copy of `model` whose strings are redacted (validated again: the same type)."""
    dumped = model.model_dump(mode="json")
    cleaned = _walk(dumped)
    return model if cleaned == dumped else type(model).model_validate(cleaned)


def redact_event(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: every string of the log event redacted."""
    return {k: _walk(v) for k, v in event_dict.items()}
