"""The audit log: an append-only, hash-chained record of every agent action.

`record()` is safe from any layer and any thread and never raises into the caller: a broken
audit sink is logged, the work goes on. Secrets are masked before anything is stored, and
prompt text is dropped unless `LLMGENIE_AUDIT_PROMPTS=1`. `verify()` walks the chain;
`export()` yields JSON lines for a SIEM.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from llmgenie.core.storage import Store

__all__ = [
    "AuditEntry",
    "VerifyResult",
    "export",
    "mask",
    "parse_since",
    "record",
    "record_all_in",
    "record_in",
    "verify",
]

_log = logging.getLogger("llmgenie.audit")


class AuditEntry(NamedTuple):
    """An event to append to the audit log (`Store.append_audits`); `at` defaults to now."""

    kind: str
    actor: str
    task_id: str | None
    step_id: str | None
    data: dict[str, Any]
    at: datetime | None = None


_SENSITIVE_KEY = re.compile(
    r"passw(or)?d|passwd|pwd|secret|token|api[-_]?key|access[-_]?key|private[-_]?key"
    r"|credential|authorization|cookie|session[-_]?id|(^|[-_])key$",
    re.IGNORECASE,
)
#: Keys that look sensitive by name but hold no secret.
_SAFE_KEYS = frozenset({"object_key", "artifact_key", "cache_key", "sort_key", "token_budget"})
#: Prompt and completion text: kept only with Settings.audit_prompts.
_PROMPT_KEYS = frozenset(
    {"prompt", "prompts", "messages", "system_prompt", "prompt_text", "completion", "response"}
)
_VALUE_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
    re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}\b"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{16,}"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    re.compile(r"(?i)(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"),
]
_URL_CREDENTIALS = re.compile(r"(://[^/\s:@]+:)([^@\s/]+)@")
_ASSIGNMENT = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key)(\s*[=:]\s*)([^\s&'\",;]+)"
)
_MASK = "****"


def _mask_match(m: re.Match[str]) -> str:
    return m.group(0)[:4] + _MASK


def _mask_text(text: str) -> str:
    for pattern in _VALUE_PATTERNS:
        text = pattern.sub(_mask_match, text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{_MASK}@", text)
    return _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{_MASK}", text)


def mask(value: Any, *, keep_prompts: bool = False, _key: str | None = None) -> Any:
    """A JSON-safe copy of `value` with secrets masked (and prompt text dropped)."""
    if (
        _key is not None
        and not keep_prompts
        and _key.lower() in _PROMPT_KEYS
        and value
        and isinstance(value, str | list | tuple | dict)  # text, not token counts
    ):
        return f"[omitted: {len(str(value))} characters]"
    sensitive = (
        _key is not None and _key.lower() not in _SAFE_KEYS and bool(_SENSITIVE_KEY.search(_key))
    )
    if hasattr(value, "model_dump"):  # domain types (Step, Capability lists, …) as plain data
        value = value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): mask(v, keep_prompts=keep_prompts, _key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask(v, keep_prompts=keep_prompts, _key=_key) for v in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, bytes):
        return _MASK if sensitive else f"[{len(value)} bytes]"
    text = value if isinstance(value, str) else str(value)
    if sensitive:
        return _MASK if text else text
    return _mask_text(text)


def record(
    kind: str,
    *,
    actor: str,
    task_id: str | None = None,
    step_id: str | None = None,
    **data: Any,
) -> None:
    """Append one event to this installation's audit log. Never raises."""
    try:
        from llmgenie.core.settings import get_settings
        from llmgenie.core.storage import open_store

        store = open_store(get_settings())
    except Exception as exc:
        _log.warning("audit event %s not recorded: %s", kind, exc)
        return
    record_in(store, kind, actor=actor, task_id=task_id, step_id=step_id, **data)


def record_in(
    store: Store,
    kind: str,
    *,
    actor: str,
    task_id: str | None = None,
    step_id: str | None = None,
    **data: Any,
) -> None:
    """`record()` into a given store. Never raises."""
    record_all_in(store, [AuditEntry(kind, actor, task_id, step_id, data)])


def record_all_in(store: Store, entries: list[AuditEntry]) -> None:
    """Several events into a given store, in order, in one transaction. Never raises."""
    try:
        keep = store.settings.audit_prompts
        store.append_audits([e._replace(data=mask(e.data, keep_prompts=keep)) for e in entries])
    except Exception as exc:
        kinds = ", ".join(sorted({e.kind for e in entries}))
        _log.warning("audit event %s not recorded: %s", kinds, exc)


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


def verify(store: Store) -> VerifyResult:
    """Walk the chain from the first event; stop at the first broken link and name it."""
    from llmgenie.core.storage.store import GENESIS_HASH, audit_hash

    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    for ev in store.audit_events():
        if ev.seq != expected_seq:
            return VerifyResult(
                False,
                checked,
                expected_seq,
                f"event #{expected_seq} is missing (the next one is #{ev.seq})",
            )
        if ev.prev_hash != prev_hash:
            return VerifyResult(
                False,
                checked,
                ev.seq,
                f"event #{ev.seq} ({ev.kind}) does not link to event #{ev.seq - 1}",
            )
        digest = audit_hash(
            ev.prev_hash, ev.seq, ev.at, ev.kind, ev.actor, ev.task_id, ev.step_id, ev.data
        )
        if digest != ev.hash:
            return VerifyResult(
                False, checked, ev.seq, f"event #{ev.seq} ({ev.kind}) was altered: hash mismatch"
            )
        prev_hash, expected_seq, checked = ev.hash, ev.seq + 1, checked + 1
    head = store.audit_head()
    last_seq = expected_seq - 1
    if head is None:
        if checked:
            return VerifyResult(False, checked, last_seq, "the chain's head record is missing")
        return VerifyResult(True, 0)
    head_seq, head_hash = head
    if head_seq != last_seq or head_hash != prev_hash:
        if head_seq > last_seq:
            reason = f"events #{last_seq + 1}..#{head_seq} were deleted (the chain ends early)"
            return VerifyResult(False, checked, last_seq + 1, reason)
        return VerifyResult(False, checked, head_seq, "the chain's head record was altered")
    return VerifyResult(True, checked)


def export(store: Store, since: datetime | None = None) -> Iterator[str]:
    """One JSON object per line per event, oldest first, with its chain hashes."""
    for ev in store.audit_events(since=since):
        yield json.dumps(ev.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)


_RELATIVE = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`2026-11-24`, `2026-11-24T10:00:00Z`, or a relative `30m` / `24h` / `7d`. ValueError else."""
    m = _RELATIVE.match(text)
    if m:
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"--since {text!r}: expected an ISO date/time (2026-11-24T10:00Z) or 30m, 24h, 7d"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
