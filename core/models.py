"""The domain vocabulary: the one definition of every type that crosses a layer boundary.

The JSON shapes are the public contract of ../shared/design/CONTRACTS.md: `TaskReport` is what
`llmgenie run --format json` prints, `ScanResult` what `llmgenie scan --format json` prints.
Extend freely; rename or drop nothing without a deprecation path.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AGENT_NAMES",
    "AgentReport",
    "Answer",
    "ArtifactRef",
    "Attempt",
    "AttemptOutcome",
    "Caller",
    "Capability",
    "Citation",
    "Context",
    "ContextFile",
    "FileKind",
    "Finding",
    "FindingLocation",
    "Mode",
    "Passage",
    "PassageKind",
    "Plan",
    "ReportSummary",
    "Role",
    "ScanResult",
    "ScanSummary",
    "Severity",
    "SkippedFile",
    "Step",
    "StepStatus",
    "Target",
    "TargetKind",
    "Task",
    "TaskReport",
    "TaskStatus",
    "TokenUsage",
    "file_line",
    "finding_id",
    "severity_counts",
    "utcnow",
]

#: The specialists BOSS may plan, in the order reports list them.
AGENT_NAMES: tuple[str, ...] = ("devops", "security", "performance", "documentation")


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Severity(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"
    info = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical=4 … info=0."""
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {
    Severity.critical: 4,
    Severity.high: 3,
    Severity.medium: 2,
    Severity.low: 1,
    Severity.info: 0,
}


class Capability(StrEnum):
    """What a step may do. An agent's spec allows some; a caller's role grants some."""

    read_target = "read_target"
    write_patch = "write_patch"
    network = "network"
    run_commands = "run_commands"
    cluster_read = "cluster_read"
    cluster_write = "cluster_write"
    publish_knowledge = "publish_knowledge"


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    maintainer = "maintainer"
    admin = "admin"


class Caller(_Model):
    """Who asked for the task: a person, a schedule, a CI job, an alert."""

    name: str = Field("local", description="user, service account or schedule name")
    role: Role = Field(Role.operator, description="role that grants capabilities")


class TargetKind(StrEnum):
    folder = "folder"
    file = "file"
    archive = "archive"
    s3 = "s3"


class Target(_Model):
    location: str = Field(description="path, archive or s3://bucket/prefix as the user gave it")
    kind: TargetKind


class Task(_Model):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    text: str = Field(description="what to do, in the caller's words")
    target: Target
    agents: list[str] | None = Field(None, description="narrow the plan to these agents")
    caller: Caller = Field(default_factory=Caller)
    created_at: datetime = Field(default_factory=utcnow)


class FileKind(StrEnum):
    kubernetes = "kubernetes"
    kustomization = "kustomization"
    helm_chart = "helm_chart"
    helm_template = "helm_template"
    dockerfile = "dockerfile"
    compose = "compose"
    terraform = "terraform"
    ci_config = "ci_config"
    dependency_manifest = "dependency_manifest"
    doc = "doc"
    source = "source"
    config = "config"
    other = "other"


class ContextFile(_Model):
    path: str = Field(description="relative to the target root, POSIX separators")
    kind: FileKind
    size: int
    language: str | None = None


class SkippedFile(_Model):
    path: str
    reason: str


class Context(_Model):
    """Wrapper stage 1: what is in the target, bounded in size and time."""

    root: str = Field(description="absolute path of the confined working view")
    target: Target
    files: list[ContextFile] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)
    truncated: bool = Field(False, description="max files reached; the rest was not looked at")
    languages: list[str] = Field(default_factory=list)

    def count_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for f in self.files:
            counts[f.kind.value] = counts.get(f.kind.value, 0) + 1
        return counts

    def files_of(self, *kinds: FileKind) -> list[ContextFile]:
        return [f for f in self.files if f.kind in kinds]


class Step(_Model):
    id: str
    agent: str
    depends_on: list[str] = Field(default_factory=list)
    goal: str = ""
    capabilities: list[Capability] = Field(
        default_factory=lambda: [Capability.read_target],
        description="what the step needs; checked against the agent's spec and the caller",
    )


class Plan(_Model):
    steps: list[Step]
    planner: Literal["rules", "llm"] = "rules"
    notes: list[str] = Field(default_factory=list, description="why the plan is what it is")


class StepStatus(StrEnum):
    completed = "completed"
    failed = "failed"
    denied = "denied"
    skipped = "skipped"


class Mode(StrEnum):
    llm = "llm"
    tool_only = "tool-only"


class AttemptOutcome(StrEnum):
    succeeded = "succeeded"
    failed = "failed"
    timed_out = "timed_out"


class TokenUsage(_Model):
    prompt: int = 0
    completion: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            prompt=self.prompt + other.prompt, completion=self.completion + other.completion
        )


class Attempt(_Model):
    """One try of one executor (a model, or the tool-only template) on a step."""

    executor: str = Field(description="'openai/gpt-4o-mini', … or 'tool-only'")
    outcome: AttemptOutcome
    error: str | None = None
    error_class: str | None = Field(
        None, description="rate_limit, server_error, timeout, connection, auth, context_length, …"
    )
    started_at: datetime
    finished_at: datetime
    tokens: TokenUsage = Field(default_factory=TokenUsage)


class FindingLocation(_Model):
    """One more place a finding stands for: the same issue in another rendered variant."""

    file: str
    line: int | None = None
    variant: str | None = Field(None, description="the Kustomize entry point that rendered it")


class Finding(_Model):
    id: str = Field("", description="stable hash of rule_id + file + resource + key evidence")
    rule_id: str
    category: str
    severity: Severity
    agent: str
    title: str
    message: str
    file: str | None = None
    line: int | None = None
    resource: str | None = None
    evidence: str | None = None
    remediation: str | None = None
    references: list[str] = Field(default_factory=list)
    locations: list[FindingLocation] = Field(
        default_factory=list,
        description="for an issue found in rendered Kustomize variants: every place it is, "
        "the first being file and line; empty for a finding on a file as written",
    )
    variants: list[str] = Field(
        default_factory=list, description="the Kustomize variants (entry points) it is in"
    )
    variants_total: int | None = Field(
        None, description="how many variants the scan rendered (`in 8 of 16 variants`)"
    )

    def model_post_init(self, __context: Any) -> None:
        if not self.id:
            self.id = finding_id(self.rule_id, self.file, self.resource, self.evidence)

    @property
    def location(self) -> str | None:
        return file_line(self.file, self.line)

    @property
    def in_variants(self) -> str | None:
        """`in 8 of 16 variants`, for a finding merged across rendered variants."""
        if not self.variants:
            return None
        n, total = len(self.variants), self.variants_total or len(self.variants)
        return f"in {n} of {total} variant{'s' if total > 1 else ''}"


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """How many findings at each severity, worst first; severities with none are left out."""
    counts = {s.value: 0 for s in Severity}
    for f in findings:
        counts[f.severity.value] += 1
    return {k: v for k, v in counts.items() if v}


def file_line(file: str | None, line: int | None) -> str | None:
    """Where something is, as people read it: `deploy/api.yaml:33`, `Dockerfile` (no line), or
    None (no file)."""
    if not file:
        return None
    return f"{file}:{line}" if line else file


def finding_id(rule_id: str, file: str | None, resource: str | None, evidence: str | None) -> str:
    key = "\x1f".join([rule_id, file or "", resource or "", evidence or ""])
    return hashlib.sha256(key.encode()).hexdigest()[:16]


class AgentReport(_Model):
    """The report of one step: what one specialist did and found."""

    id: str
    agent: str
    status: StepStatus
    mode: Mode = Mode.tool_only
    model: str | None = None
    flow_run_id: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    summary: str = ""
    findings: list[Finding] = Field(default_factory=list)
    error: str | None = Field(None, description="why the step failed or was denied, one line")
    missing_capabilities: list[Capability] = Field(default_factory=list)
    output: dict[str, Any] = Field(
        default_factory=dict, description="structured tool output (inventory, catalogue, …)"
    )
    notes: list[str] = Field(
        default_factory=list, description="what the step could not do, and why"
    )


class ArtifactRef(_Model):
    name: str
    url: str
    sha256: str
    size: int = 0
    content_type: str = "application/octet-stream"
    step_id: str | None = None
    pending_upload: bool = False


class ReportSummary(_Model):
    by_severity: dict[str, int] = Field(default_factory=dict)
    by_agent: dict[str, int] = Field(default_factory=dict)


class TaskStatus(StrEnum):
    running = "running"
    completed = "completed"
    completed_with_errors = "completed_with_errors"
    failed = "failed"
    interrupted = "interrupted"


class TaskReport(_Model):
    task_id: str
    task: str
    target: str
    status: TaskStatus
    plan: Plan
    steps: list[AgentReport] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    summary: ReportSummary = Field(default_factory=ReportSummary)
    artifacts: list[ArtifactRef] = Field(default_factory=list)
    caller: Caller = Field(default_factory=Caller)
    flow_run_id: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    skipped: list[SkippedFile] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class ScanSummary(_Model):
    files_scanned: int = 0
    by_severity: dict[str, int] = Field(default_factory=dict)
    by_category: dict[str, int] = Field(default_factory=dict)
    suppressed: int = 0
    skipped: list[SkippedFile] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class ScanResult(_Model):
    findings: list[Finding] = Field(default_factory=list)
    summary: ScanSummary = Field(default_factory=ScanSummary)


class PassageKind(StrEnum):
    doc = "doc"  # a section of the target's own documentation
    catalogue = "catalogue"  # a section of the service catalogue Documentation wrote
    runbook = "runbook"  # a section of a runbook Documentation wrote
    finding = "finding"  # a finding of the task that published the passages


class Passage(_Model):
    """A piece of what llmgenie knows about a target, as the knowledge base holds it."""

    id: str = Field(description="stable: the same section of the same target keeps its id")
    target: str
    kind: PassageKind
    source: str = Field(description="where it comes from: README.md, runbooks/api.md, LG-K8S-001")
    title: str = ""
    text: str
    file: str | None = Field(None, description="the target file it is about, if one")
    line: int | None = None
    task_id: str | None = Field(None, description="the task that taught it as it reads now")

    @property
    def location(self) -> str | None:
        return file_line(self.file, self.line)


class Citation(_Model):
    n: int = Field(description="the number the answer cites it by: [1], [2], …")
    passage: Passage
    score: float = Field(description="closeness to the question, 0 to 1")


class Answer(_Model):
    question: str
    answer: str
    mode: Mode
    model: str | None = None
    citations: list[Citation] = Field(default_factory=list)
    tokens: TokenUsage = Field(default_factory=TokenUsage)
    notes: list[str] = Field(default_factory=list)
