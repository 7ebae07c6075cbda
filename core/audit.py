"""The audit log: an append-only, hash-chained record of every agent action, anchored outside it.

`record()` is safe from any layer and any thread and never raises into the caller: a broken
audit sink is logged, the work goes on. Secrets are masked before anything is stored, and
prompt text is dropped unless `LLMGENIE_AUDIT_PROMPTS=1`.

The chain (`AuditLog`): each event stores `prev_hash` and `hash = sha256(prev_hash + canonical
event)`; a one-row head names the newest link. A chain alone cannot show that its tail, or all
of it, was deleted and the head moved back, so it is anchored outside its own tables (decision
0023): each task's row, and the manifest stored with its files, records the link of the task's
own last event. With `LLMGENIE_AUDIT_KEY` set, the head and every anchor also carry an HMAC.
`verify()` walks the chain and checks the head and every anchor; `export()` yields JSON lines
for a SIEM.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel, Field
from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

from llmgenie.core.models import TaskStatus, utcnow
from llmgenie.core.redact import redact
from llmgenie.core.storage.db import database_unreachable, db_error_line, transaction
from llmgenie.core.storage.tables import AuditEventRow, AuditHeadRow, TaskRow

if TYPE_CHECKING:
    from llmgenie.core.storage import Store

__all__ = [
    "GENESIS_HASH",
    "Anchor",
    "AuditEntry",
    "AuditEvent",
    "AuditLog",
    "VerifyResult",
    "audit_hash",
    "canonical_json",
    "export",
    "mask",
    "parse_since",
    "record",
    "record_all_in",
    "record_in",
    "verify",
]

_log = logging.getLogger("llmgenie.audit")

#: The `prev_hash` of the first audit event.
GENESIS_HASH = "0" * 64


class AuditEntry(NamedTuple):
    """An event to append to the audit log (`AuditLog.append`); `at` defaults to now."""

    kind: str
    actor: str
    task_id: str | None
    step_id: str | None
    data: dict[str, Any]
    at: datetime | None = None


class AuditEvent(BaseModel):
    """One stored link of the chain."""

    seq: int
    at: datetime
    kind: str
    actor: str
    task_id: str | None = None
    step_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Anchor:
    """A link of the chain recorded outside it: (seq, hash), signed when a key is set."""

    seq: int
    hash: str
    mac: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "mac": self.mac}

    @classmethod
    def from_json(cls, value: Any) -> Anchor:
        """ValueError when `value` is not an anchor."""
        if not isinstance(value, dict):
            raise ValueError("not an object")
        seq, digest, mac = value.get("seq"), value.get("hash"), value.get("mac")
        if not isinstance(seq, int) or not isinstance(digest, str):
            raise ValueError("seq and hash expected")
        return cls(seq, digest, mac if isinstance(mac, str) else None)


def canonical_json(value: Any) -> str:
    """The one serialisation hashed into the chain."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def audit_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    kind: str,
    actor: str,
    task_id: str | None,
    step_id: str | None,
    data: dict[str, Any],
) -> str:
    """The link: sha256 over the previous link and every field of this event."""
    body = canonical_json(
        {
            "seq": seq,
            "at": at.isoformat(timespec="microseconds"),
            "kind": kind,
            "actor": actor,
            "task_id": task_id,
            "step_id": step_id,
            "data": data,
        }
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


class _Conflict(Exception):
    pass


class AuditLog:
    """The hash chain in the metadata database: append, read, sign, and the tasks' anchors."""

    def __init__(self, engine: Engine, key: str | None = None) -> None:
        self.engine = engine
        self._key = key.encode() if key else None
        self._lock = threading.Lock()
        #: The last append failed because the database did not answer (warned about once).
        self.unreachable = False

    @property
    def signed(self) -> bool:
        """Whether `LLMGENIE_AUDIT_KEY` is set: heads and anchors carry an HMAC."""
        return self._key is not None

    def sign(self, *parts: object) -> str | None:
        """HMAC-SHA256 of `parts` with the audit key; None without one."""
        if self._key is None:
            return None
        message = ":".join(str(p) for p in parts).encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def signature_ok(self, mac: str | None, *parts: object) -> bool:
        expected = self.sign(*parts)
        return expected is None or (mac is not None and hmac.compare_digest(mac, expected))

    def append(
        self,
        entries: Sequence[AuditEntry],
        *,
        with_change: Callable[[Session], bool] | None = None,
        anchor_task: str | None = None,
    ) -> list[int]:
        """Append events to the chain in order, in one transaction; returns their numbers.

        A report's ~10 stored files are ~10 events: one transaction (and, on PostgreSQL, one
        wait for the chain's head lock) instead of one each.

        `with_change(session)`, when given, makes the change the events are about in that same
        transaction, first: both are stored or neither. It returns False when there was nothing
        to change (another process made it first); then no event is appended and the result is
        empty. It may run again if the chain's head moved meanwhile.

        `anchor_task`, when given, records the last new link as that task's anchor (its row),
        in the same transaction.
        """
        if not entries:
            return []
        now = utcnow()
        events = [
            entry._replace(data=json.loads(canonical_json(entry.data)), at=entry.at or now)
            for entry in entries
        ]
        with self._lock:
            for attempt in range(50):
                try:
                    return self._append_once(events, with_change, anchor_task)
                except (IntegrityError, OperationalError, _Conflict) as exc:
                    if isinstance(exc, OperationalError) and not self._answers():
                        raise  # not contention: the database is gone, and 50 tries take 8 s
                    # another process appended first (or held the SQLite lock): take the new head
                    time.sleep(min(0.5, 0.005 * 2 ** min(attempt, 6)) * random.random())
            raise RuntimeError("could not append to the audit log: too much contention")

    def _answers(self) -> bool:
        """Whether the database takes a connection now (contention, not an outage)."""
        try:
            with self.engine.connect():
                return True
        except DBAPIError:
            return False

    def _append_once(
        self,
        events: list[AuditEntry],
        with_change: Callable[[Session], bool] | None,
        anchor_task: str | None,
    ) -> list[int]:
        with Session(self.engine) as s, s.begin():
            if with_change is not None and not with_change(s):
                return []
            query = select(AuditHeadRow).where(AuditHeadRow.id == 1)
            if self.engine.dialect.name == "postgresql":
                query = query.with_for_update()
            head = s.scalars(query).first()
            first_seq, prev_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
            seq = first_seq
            numbers = []
            for e in events:
                seq += 1
                at = e.at or utcnow()
                digest = audit_hash(
                    prev_hash, seq, at, e.kind, e.actor, e.task_id, e.step_id, e.data
                )
                s.add(
                    AuditEventRow(
                        seq=seq,
                        at=at,
                        kind=e.kind,
                        actor=e.actor,
                        task_id=e.task_id,
                        step_id=e.step_id,
                        data=e.data,
                        prev_hash=prev_hash,
                        hash=digest,
                    )
                )
                prev_hash = digest
                numbers.append(seq)
            mac = self.sign(seq, prev_hash)
            if head is None:
                s.add(AuditHeadRow(id=1, seq=seq, hash=prev_hash, mac=mac))
                s.flush()
            else:
                res = s.execute(
                    update(AuditHeadRow)
                    .where(AuditHeadRow.id == 1, AuditHeadRow.seq == first_seq)
                    .values(seq=seq, hash=prev_hash, mac=mac)
                )
                if res.rowcount != 1:
                    raise _Conflict
            if anchor_task is not None:
                s.execute(
                    update(TaskRow)
                    .where(TaskRow.id == anchor_task)
                    .values(
                        audit_seq=seq,
                        audit_hash=prev_hash,
                        audit_mac=self.sign(anchor_task, seq, prev_hash),
                    )
                )
            return numbers

    def events(self, since: datetime | None = None, batch: int = 1000) -> Iterator[AuditEvent]:
        """Every event in chain order (from `since` on, if given), streamed in batches."""
        last = 0
        while True:

            def tx(s: Session, last: int = last) -> list[AuditEvent]:
                q = select(AuditEventRow).where(AuditEventRow.seq > last)
                if since is not None:
                    q = q.where(AuditEventRow.at >= since)
                rows = s.scalars(q.order_by(AuditEventRow.seq).limit(batch))
                return [
                    AuditEvent(
                        seq=r.seq,
                        at=r.at,
                        kind=r.kind,
                        actor=r.actor,
                        task_id=r.task_id,
                        step_id=r.step_id,
                        data=r.data or {},
                        prev_hash=r.prev_hash,
                        hash=r.hash,
                    )
                    for r in rows
                ]

            events = transaction(self.engine, tx)
            yield from events
            if len(events) < batch:
                return
            last = events[-1].seq

    def head(self) -> Anchor | None:
        """The chain's newest link as its head row says, or None for an empty log."""

        def tx(s: Session) -> Anchor | None:
            head = s.get(AuditHeadRow, 1)
            return Anchor(head.seq, head.hash, head.mac) if head else None

        return transaction(self.engine, tx)

    def anchor_of(self, task_id: str) -> Anchor | None:
        """The link a task's row records as its last event."""

        def tx(s: Session) -> Anchor | None:
            row = s.get(TaskRow, task_id)
            if row is None or row.audit_seq is None or row.audit_hash is None:
                return None
            return Anchor(row.audit_seq, row.audit_hash, row.audit_mac)

        return transaction(self.engine, tx)

    def task_anchors(self) -> list[tuple[str, str, Anchor | None]]:
        """(task id, status, anchor or None) of every task the tasks table lists."""

        def tx(s: Session) -> list[tuple[str, str, Anchor | None]]:
            rows = s.execute(
                select(
                    TaskRow.id,
                    TaskRow.status,
                    TaskRow.audit_seq,
                    TaskRow.audit_hash,
                    TaskRow.audit_mac,
                ).order_by(TaskRow.created_at, TaskRow.id)
            )
            return [
                (tid, status, Anchor(seq, digest, mac) if seq is not None and digest else None)
                for tid, status, seq, digest, mac in rows
            ]

        return transaction(self.engine, tx)

    def pruned_at(self, task_id: str) -> datetime | None:
        """When a task (an id prefix is enough) was pruned, as the log says; else None."""
        return transaction(
            self.engine,
            lambda s: s.scalar(
                select(func.max(AuditEventRow.at)).where(
                    AuditEventRow.kind == "task.pruned",
                    AuditEventRow.task_id.startswith(task_id, autoescape=True),
                )
            ),
        )


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
    text = _ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{_MASK}", text)
    return redact(text)  # and what the secret detector finds (or found in the target)


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
        store.audit_log.append([e._replace(data=mask(e.data, keep_prompts=keep)) for e in entries])
    except Exception as exc:
        kinds = ", ".join(sorted({e.kind for e in entries}))
        if isinstance(exc, DBAPIError) and database_unreachable(exc):
            # said once per outage, not once per event: a run makes dozens
            say = _log.debug if store.audit_log.unreachable else _log.warning
            store.audit_log.unreachable = True
            say(
                "audit events not recorded while the database does not answer (%s): %s",
                kinds,
                db_error_line(exc),
            )
            return
        _log.warning("audit event %s not recorded: %s", kinds, exc)
    else:
        store.audit_log.unreachable = False


@dataclass(frozen=True)
class VerifyResult:
    """What `verify` found: the first broken link, and every anchor that does not hold."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None
    problems: list[str] = field(default_factory=list)
    anchors: int = 0


_FINISHED = frozenset({TaskStatus.completed.value, TaskStatus.completed_with_errors.value})


@dataclass
class _Wanted:
    """An anchor to find in the chain: whose it is, and where it was read."""

    task_id: str
    where: str
    anchor: Anchor


def verify(store: Store) -> VerifyResult:
    """Walk the chain from the first event and check its head and every task's anchors.

    The walk names the first broken link (edited, missing, unlinked). The anchors (each task
    row's, and the manifest stored with a finished task's files) name what a consistent but
    shortened chain lost: a deleted tail behind a moved head, a deleted chain, one task's events.
    A task with no anchor (stored before anchors existed) must still have events naming it.
    """
    log = store.audit_log
    problems: list[tuple[int, str]] = []
    wanted: dict[int, list[_Wanted]] = {}
    unanchored: set[str] = set()
    for task_id, status, anchor in log.task_anchors():
        if anchor is None:
            unanchored.add(task_id)
            continue
        wanted.setdefault(anchor.seq, []).append(_Wanted(task_id, "row", anchor))
        if status in _FINISHED:
            try:
                stored = store.files.manifest_anchor(task_id)
            except Exception as exc:  # the bucket's own errors are many kinds; all mean "unread"
                reason = " ".join(str(exc).split())[:200] or type(exc).__name__
                problems.append((anchor.seq, f"task {task_id}'s manifest cannot be read: {reason}"))
                continue
            # no manifest: its files are gone with a prune cut off before the rows (decision
            # 0016), or it was never written; the row's anchor still holds the task
            if stored is not None and stored != anchor:
                problems.append(
                    (
                        min(stored.seq, anchor.seq),
                        f"task {task_id}'s row anchors event #{anchor.seq} but its manifest "
                        f"anchors #{stored.seq}: the row was altered",
                    )
                )
                wanted.setdefault(stored.seq, []).append(_Wanted(task_id, "manifest", stored))

    # the walk goes on past a break, so that every anchor is looked for
    first_break: tuple[int, str] | None = None
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    found: dict[int, AuditEvent] = {}
    seen_tasks: set[str] = set()
    for ev in log.events():
        if ev.seq in wanted:
            found[ev.seq] = ev
        if ev.task_id in unanchored:
            seen_tasks.add(ev.task_id)
        if first_break is None:
            first_break = _link_problem(ev, expected_seq, prev_hash)
            if first_break is None:
                checked += 1
        prev_hash, expected_seq = ev.hash, ev.seq + 1
    last_seq = expected_seq - 1
    if first_break is None:
        first_break = _head_problem(log, log.head(), last_seq, prev_hash, checked)

    for seq, anchors in wanted.items():
        ev = found.get(seq)
        for w in anchors:
            problem = _anchor_problem(log, w, ev, last_seq)
            if problem:
                problems.append((seq, problem))
    beyond = [seq for seq in wanted if seq > last_seq]
    if beyond:
        ends = f"the chain ends at #{last_seq}" if last_seq else "the chain is empty"
        problems.append(
            (
                last_seq + 1,
                f"events #{last_seq + 1}..#{max(beyond)} were deleted: task anchors point past "
                f"its end ({ends})",
            )
        )
    problems += [(0, f"task {t} has no events in the audit log") for t in unanchored - seen_tasks]

    problems.sort(key=lambda p: p[0])
    lines = list(dict.fromkeys(text for _, text in problems))
    anchors_checked = sum(len(a) for a in wanted.values())
    if first_break is None and not lines:
        return VerifyResult(True, checked, anchors=anchors_checked)
    if first_break is not None:
        broken_at, reason = first_break
    else:
        broken_at, reason = problems[0][0] or None, lines[0]
    return VerifyResult(False, checked, broken_at, reason, lines, anchors_checked)


def _link_problem(ev: AuditEvent, expected_seq: int, prev_hash: str) -> tuple[int, str] | None:
    if ev.seq != expected_seq:
        return expected_seq, f"event #{expected_seq} is missing (the next one is #{ev.seq})"
    if ev.prev_hash != prev_hash:
        return ev.seq, f"event #{ev.seq} ({ev.kind}) does not link to event #{ev.seq - 1}"
    digest = audit_hash(
        ev.prev_hash, ev.seq, ev.at, ev.kind, ev.actor, ev.task_id, ev.step_id, ev.data
    )
    if digest != ev.hash:
        return ev.seq, f"event #{ev.seq} ({ev.kind}) was altered: hash mismatch"
    return None


def _head_problem(
    log: AuditLog, head: Anchor | None, last_seq: int, last_hash: str, checked: int
) -> tuple[int, str] | None:
    if head is None:
        return (last_seq, "the chain's head record is missing") if checked else None
    if head.seq != last_seq or head.hash != last_hash:
        if head.seq > last_seq:
            reason = f"events #{last_seq + 1}..#{head.seq} were deleted (the chain ends early)"
            return last_seq + 1, reason
        return head.seq, "the chain's head record was altered"
    if not log.signature_ok(head.mac, head.seq, head.hash):
        return head.seq, (
            "the chain's head is not signed with LLMGENIE_AUDIT_KEY: it was moved or forged "
            "(or the key changed)"
        )
    return None


def _anchor_problem(log: AuditLog, w: _Wanted, ev: AuditEvent | None, last_seq: int) -> str | None:
    whose = f"task {w.task_id}'s {w.where} anchor, event #{w.anchor.seq},"
    if ev is None:
        if w.anchor.seq > last_seq:
            return f"{whose} is gone: the task's last events were deleted"
        return f"{whose} is missing from the chain"
    if ev.task_id != w.task_id:
        return (
            f"{whose} is now an event of {ev.task_id or 'no task'}: the task's events were "
            "removed or the chain rewritten"
        )
    if ev.hash != w.anchor.hash:
        return f"{whose} was rewritten (its hash differs)"
    if not log.signature_ok(w.anchor.mac, w.task_id, w.anchor.seq, w.anchor.hash):
        return f"{whose} is not signed with LLMGENIE_AUDIT_KEY: it was altered"
    return None


def export(store: Store, since: datetime | None = None) -> Iterator[str]:
    """One JSON object per line per event, oldest first, with its chain hashes."""
    for ev in store.audit_log.events(since=since):
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
