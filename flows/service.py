"""The task service: the checks before a task starts, and submit, list and get, for every interface.

The CLI, the REST API and the MCP server parse their input, call this module and render what it
returns. A request it refuses raises `Refused` with one line, which each interface shows as it
shows a caller's mistake (exit 2, HTTP 422, an MCP tool error): the same words from each.

Targets of the REST API and MCP are confined to `LLMGENIE_TARGET_ROOTS` (`TargetRoots`); the CLI,
run by the machine's own user, is not. Prefect and the toolsets are imported only when a task
or a scan runs, so the checks stay fast.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from llmgenie.core.models import AGENT_NAMES, Answer, Role, ScanResult, TaskReport, TaskStatus
from llmgenie.core.settings import Settings, get_settings

if TYPE_CHECKING:
    from llmgenie.core.storage import Store, TaskListing

__all__ = [
    "MAX_LIST_LIMIT",
    "MAX_PATH_CHARS",
    "MAX_TASK_CHARS",
    "Refused",
    "TargetRoots",
    "TaskAsked",
    "TaskLine",
    "TaskRequest",
    "TaskService",
    "check_agents",
    "check_limit",
    "check_providers",
    "check_role",
    "check_target",
]

#: the longest target path accepted, and the longest single name in it (Linux's PATH_MAX, NAME_MAX)
MAX_PATH_CHARS = 4096
MAX_NAME_CHARS = 255
#: the task text goes into flow-run parameters, which Prefect caps, and into prompts
MAX_TASK_CHARS = 4000
#: `list` answers at most this many tasks
MAX_LIST_LIMIT = 500
#: how much of a caller's value a refusal repeats
_SHOWN_CHARS = 120


class Refused(ValueError):
    """The request cannot be accepted; the message is one line naming the input and what was
    expected. The CLI exits 2 with it, the REST API answers 422, the MCP server a tool error."""


class TaskAsked(BaseModel):
    """A task as a remote caller asks for it: what to do, over what, and at most which role.
    Who asks is not the body's to say: the REST API takes it from the caller's token."""

    task: str = Field(
        min_length=1, max_length=MAX_TASK_CHARS, description="what to do, e.g. 'audit manifests'"
    )
    target: str = Field(
        min_length=1,
        max_length=MAX_PATH_CHARS,
        description="folder, file, archive or s3://bucket/prefix",
    )
    agents: list[str] | None = Field(None, description="only these specialists")
    role: Role | None = Field(
        None, description="act with this role: the caller's own (the default) or a lower one"
    )


class TaskRequest(TaskAsked):
    """A task checked to start: what to do, over what, by whom, with which role."""

    role: Role = Field(Role.operator, description="the caller's role")
    caller: str = Field(
        "api", min_length=1, max_length=200, description="who asks: a user, a CI job, an alert"
    )


class TaskLine(BaseModel):
    """One earlier task, as `list` answers it (newest first)."""

    task_id: str
    task: str
    target: str
    status: TaskStatus
    created_at: datetime
    finished_at: datetime | None = None
    by_severity: dict[str, int] = Field(default_factory=dict)
    findings: int = Field(0, description="how many findings the task reported")
    pending_uploads: int = Field(0, description="stored files still waiting for the upload")

    @classmethod
    def of(cls, row: TaskListing) -> TaskLine:
        return cls(
            task_id=row.id,
            task=row.task,
            target=row.target,
            status=row.status,
            created_at=row.created_at,
            finished_at=row.finished_at,
            by_severity=row.by_severity,
            findings=row.finding_count,
            pending_uploads=row.pending_uploads,
        )


def _shown(value: str) -> str:
    """`value` quoted for a refusal; a long one is cut, never repeated whole."""
    if len(value) > _SHOWN_CHARS:
        value = value[: _SHOWN_CHARS // 2] + "…"
    return repr(value)


def check_agents(agents: Iterable[str] | None) -> list[str] | None:
    """The agents named, de-duplicated in order; None (or none named) means every agent."""
    if agents is None:
        return None
    chosen = list(dict.fromkeys(a.strip().lower() for a in agents))
    unknown = [a for a in chosen if a not in AGENT_NAMES]
    if unknown:
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise Refused(
            f"agents: unknown agent {_shown(unknown[0])}{more}; expected some of "
            f"{', '.join(AGENT_NAMES)}"
        )
    return chosen or None


def check_role(role: str | Role) -> Role:
    """`operator` → Role.operator; anything else is refused, naming the roles."""
    try:
        return Role(role.strip().lower() if isinstance(role, str) else role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise Refused(f"role: {_shown(str(role))} is not one of {roles}") from None


def check_providers(settings: Settings) -> None:
    """A model chain the operator set must name providers llmgenie has: a typo in LLMGENIE_LLM is
    refused, not run tool-only. The implicit chain (a provider key is set) may fall back."""
    if settings.llm is None:
        return
    from llmgenie.agents.executors import PROVIDERS, unknown_providers

    unknown, notes = unknown_providers(settings.model_chain)
    if notes:
        raise Refused(f"LLMGENIE_LLM={settings.llm!r}: {notes[0]}")
    if unknown:
        raise Refused(
            f"LLMGENIE_LLM={settings.llm!r}: {', '.join(map(repr, unknown))} names no provider "
            f"llmgenie has ({', '.join(sorted(PROVIDERS))})"
        )


def check_limit(limit: int) -> int:
    """How many tasks a listing may return: 1 to MAX_LIST_LIMIT."""
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise Refused(f"limit: {limit} is not between 1 and {MAX_LIST_LIMIT}")
    return limit


@dataclass(frozen=True)
class TargetRoots:
    """The folders and s3:// prefixes a confined caller (REST API, MCP) may target.

    A folder root admits itself and everything under it once both are resolved (symlinks
    followed); an s3:// root admits itself and the keys under it. Which paths exist outside the
    roots is never said: every target outside gets the same refusal.
    """

    roots: tuple[str, ...]

    @classmethod
    def of(cls, settings: Settings, default: Path | None = None) -> TargetRoots:
        """`LLMGENIE_TARGET_ROOTS`; when unset, `default` alone (or nothing at all)."""
        roots = settings.target_root_list or ([str(default)] if default is not None else [])
        return cls(tuple(roots))

    def admit(self, location: str) -> str:
        """The location to use for `location`, resolved; Refused when it is not under a root."""
        if not self.roots:
            raise Refused(
                "target: no target is allowed here until LLMGENIE_TARGET_ROOTS names the folders "
                "and s3:// prefixes that tasks may read"
            )
        outside = Refused(f"target {_shown(location)} is not under LLMGENIE_TARGET_ROOTS")
        if location.startswith("s3://"):
            wanted = location.rstrip("/")
            for root in self.roots:
                prefix = root.rstrip("/")
                if root.startswith("s3://") and (
                    wanted == prefix or wanted.startswith(prefix + "/")
                ):
                    return location
            raise outside
        try:
            resolved = Path(location).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):  # a link loop, an unreadable parent
            raise outside from None
        for root in self.roots:
            if root.startswith("s3://"):
                continue
            try:
                base = Path(root).expanduser().resolve()
            except (OSError, RuntimeError, ValueError):
                continue
            if resolved.is_relative_to(base):
                return str(resolved)
        raise outside


def check_target(location: str, roots: TargetRoots | None, *, opens: bool = True) -> str:
    """The location a task or scan should use for `location`, or Refused saying why not.

    Empty, too long, with a NUL, outside `roots` (None: anywhere), does not exist, or (with
    `opens`) does not open: the folder lists, the file reads, the archive's index parses, the S3
    prefix lists. Within roots the resolved location is used, so a link changed later does
    not move the task outside them.
    """
    from llmgenie.core.targets import TargetError, classify_target
    from llmgenie.core.targets import check_target as opens_at_all

    if not location.strip():
        raise Refused("target: empty; expected a folder, file, archive or s3://bucket/prefix")
    if "\x00" in location:
        raise Refused("target: contains a NUL character")
    if len(location) > MAX_PATH_CHARS:
        raise Refused(f"target: longer than {MAX_PATH_CHARS} characters")
    local = not location.startswith("s3://")
    if local and any(len(name) > MAX_NAME_CHARS for name in location.split("/")):
        raise Refused(f"target: a name in the path is longer than {MAX_NAME_CHARS} characters")
    used = roots.admit(location) if roots is not None else location
    try:
        (opens_at_all if opens else classify_target)(used)
    except TargetError as exc:  # named as the caller wrote it
        raise Refused(str(exc).replace(repr(used), _shown(location))) from None
    except OSError as exc:  # the path itself cannot be looked at (too long for this system, …)
        reason = exc.strerror or type(exc).__name__
        raise Refused(f"target {_shown(location)} cannot be read: {reason}") from None
    return used


class TaskService:
    """Tasks and scans for one interface. `roots` confine its targets (None: anywhere, the CLI);
    tasks it starts in the background are tracked until they end."""

    def __init__(self, roots: TargetRoots | None, settings: Settings | None = None) -> None:
        self.roots = roots
        self._settings = settings
        self._running: dict[str, asyncio.Task[TaskReport]] = {}

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    def check(
        self,
        task: str,
        target: str,
        agents: Iterable[str] | None = None,
        role: str | Role = Role.operator,
        caller: str = "api",
        *,
        providers: bool = True,
    ) -> TaskRequest:
        """The request, checked: agents, role, the model chain's providers, then the target.

        `providers=False` leaves `check_providers` to the caller, for a CLI that overlaps the
        providers' imports with the start of the embedded Prefect API."""
        if not task.strip():
            raise Refused("task: empty; say what to do, e.g. 'audit the manifests'")
        if len(task) > MAX_TASK_CHARS:
            raise Refused(f"task: longer than {MAX_TASK_CHARS} characters")
        chosen = check_agents(agents)
        checked_role = check_role(role)
        if providers:
            check_providers(self.settings)
        return TaskRequest(
            task=task,
            target=check_target(target, self.roots),
            agents=chosen,
            role=checked_role,
            caller=caller,
        )

    def run(
        self, request: TaskRequest, task_id: str | None = None
    ) -> Coroutine[Any, Any, TaskReport]:
        """BOSS over a checked request, in this process: await it for the report."""
        from llmgenie.flows.boss import in_process_boss

        return in_process_boss()(
            task=request.task,
            target=request.target,
            agents=request.agents,
            role=request.role,
            caller=request.caller,
            task_id=task_id or uuid.uuid4().hex,
        )

    def submit(self, request: TaskRequest) -> str:
        """Start BOSS over a checked request in the background (on the running loop); the id."""
        task_id = uuid.uuid4().hex
        self._running[task_id] = asyncio.ensure_future(self.run(request, task_id))
        self._running[task_id].add_done_callback(lambda _: self._running.pop(task_id, None))
        return task_id

    def running(self, task_id: str) -> asyncio.Task[TaskReport] | None:
        """The background run of `task_id` while it runs, else None."""
        return self._running.get(task_id)

    def list_tasks(self, limit: int = 20, store: Store | None = None) -> list[TaskLine]:
        """The `limit` (1 to MAX_LIST_LIMIT) newest tasks."""
        check_limit(limit)
        return [TaskLine.of(r) for r in (store or self._store()).list_tasks(limit)]

    def get_task(self, task_id: str, store: Store | None = None) -> TaskReport | None:
        """A task's stored report (an id prefix is enough), None when there is none."""
        from llmgenie.core.storage import AmbiguousTaskIdError

        try:
            return (store or self._store()).get_report(task_id)
        except AmbiguousTaskIdError as exc:
            raise Refused(str(exc)) from None

    def check_scan(
        self, path: str, agents: Iterable[str] | None = None
    ) -> tuple[str, list[str] | None]:
        """The location to scan and the agents whose toolsets run (None: every agent)."""
        chosen = check_agents(agents)
        return check_target(path, self.roots, opens=False), chosen

    def scan(
        self,
        path: str,
        agents: Iterable[str] | None = None,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> ScanResult:
        """The toolsets alone over `path`: no orchestration, no model. Blocking."""
        from llmgenie.agents.tools import scan_detailed
        from llmgenie.core.targets import TargetError

        location, chosen = self.check_scan(path, agents)
        try:
            return scan_detailed(location, chosen, progress=progress, outputs=False).scan
        except TargetError as exc:
            raise Refused(str(exc).replace(repr(location), _shown(path))) from None

    def ask(self, question: str, target: str | None = None, top: int = 5) -> Answer:
        """A question answered from the knowledge base. A confined caller names a target it may
        submit, and is answered from that target's passages only. Blocking."""
        from llmgenie.agents.ask import ask

        if not question.strip():
            raise Refused("question: empty")
        if self.roots is not None:
            if not target:
                raise Refused(
                    "target: name the target to ask about; answers come only from targets "
                    "this caller may submit"
                )
            target = self.roots.admit(target)
        return ask(question, target, top, self.settings)

    def _store(self) -> Store:
        from llmgenie.core.storage import open_store
        from llmgenie.flows import crashed

        crashed.watch()
        return open_store(self.settings)
