"""Dockerfile security rules (`docker.*` categories), over a parsed `Dockerfile`.

Decisions worth knowing:

* root user: only the final stage runs; its `USER` may be inherited from the earlier stage it
  builds on (`FROM build`). A base whose tag or name says `nonroot` (distroless `:nonroot`)
  already runs as non-root. A `USER` that is an unresolvable variable is not judged.
* `ADD` is flagged only for local files and folders: `ADD` of a URL (or git repository) and
  of a local tar archive (which `ADD` extracts) do things `COPY` cannot, as Docker's docs and
  hadolint DL3020 say. (Remote `ADD` without `--checksum` has its own trust problem; that is
  not this category.)
* apt lists: judged in the final stage and the stages it builds on (what ships); a RUN with a
  cache mount on `/var/lib/apt` leaves no lists in the layer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from llmgenie.core.models import FileKind, Severity
from llmgenie.core.secrets import is_secret_name, mask

from ..parsing.compose import ComposeFile, ComposeService, parse_compose
from ..parsing.compose import interpolate as compose_interpolate
from ..parsing.dockerfile import (
    Dockerfile,
    Instruction,
    Stage,
    parse_dockerfile,
    substitute,
)
from ..parsing.image import parse_image_ref
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = [
    "COMPOSE_RULES",
    "DOCKERFILE_RULES",
    "is_secret_name",
    "mask",
    "run_commands",
]

DOCKERFILE_RULES: RuleSet[Dockerfile] = RuleSet(agent="security")

_ROOT_NAMES = frozenset({"root", "0"})
_ARCHIVE = re.compile(  # what ADD extracts: tar, plain or compressed (as hadolint DL3020 sees it)
    r"\.(?:tar|t?gz|tbz2?|tb2|bz2|t?xz|t?zst|t?lz|lzma|tlz|tpz|t?Z)$", re.I
)
_REMOTE = re.compile(r"^(https?|git|ssh)://|^git@|\.git(#.*)?$", re.I)
_NOT_SECRETS = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null"})
_SHELLS = frozenset({"sh", "bash", "zsh", "ksh", "dash", "ash", "mksh"})
_FETCHERS = frozenset({"curl", "wget"})
_SUBST_FETCH = re.compile(
    r"\b(?:(?:ba|z|k|da|a)?sh|eval|source|\.)\s+(?:-\S+\s+)*[\"']?(?:\$\(|<\(|`)\s*(?:curl|wget)\b"
)
_APT_LISTS_RM = re.compile(r"\brm\s+(?:-\S+\s+)*(?:[^&;|\n]*\s)?[\"']?/var/lib/apt/lists")
_NO_RECOMMENDS = re.compile(
    r"--no-install-recommends|APT::Install-Recommends[=\s\"']+(?:false|0)", re.I
)
_APT_RECOMMENDS_CONF = re.compile(r"APT::Install-Recommends\W+(?:\"|')?(?:false|0)", re.I)
_SEPARATORS = re.compile(r"&&|\|\||;|\n")


def _literal_secret(value: str) -> bool:
    """A value that is a secret itself: not empty, a `$VAR` reference, a flag or a path."""
    v = value.strip().strip("\"'")
    if not v or "$" in v or v.lower() in _NOT_SECRETS:
        return False
    return not v.startswith(("/", "./", "~/"))


def run_commands(ins: Instruction) -> str:
    """What a RUN executes: shell text with heredoc bodies, or the exec form joined."""
    as_json = ins.json_args()
    if as_json is None:
        return ins.command
    shell = as_json[0].rsplit("/", 1)[-1] if as_json else ""
    if shell in _SHELLS and "-c" in as_json[1:]:
        at = as_json.index("-c", 1)
        return " ".join(as_json[at + 1 :])
    return " ".join(as_json)


def _simple_commands(text: str) -> Iterator[list[list[str]]]:
    """Pipelines of a shell text, each as its segments' words (a rough split, quotes-aware)."""
    for chunk in _SEPARATORS.split(text):
        segments: list[list[str]] = []
        for seg in re.split(r"(?<!\|)\|(?!\|)", chunk):
            words = seg.replace("(", " ").replace(")", " ").split()
            segments.append(words)
        yield segments


def _command_name(words: list[str]) -> str | None:
    i = 0
    while i < len(words):
        w = words[i]
        if (
            w in ("sudo", "env", "exec", "command", "time", "nohup")
            or "=" in w
            or w.startswith("-")
        ):
            i += 1
            continue
        return w.rsplit("/", 1)[-1].strip("\"'")
    return None


def _stage_values(df: Dockerfile, stage: Stage, before_line: int) -> dict[str, str]:
    values = dict(df.global_args)
    for st in reversed(df.lineage(stage)):
        for ins in st.instructions:
            if st is stage and ins.line >= before_line:
                break
            if ins.keyword in ("ARG", "ENV"):
                for name, value, _ in _assignments(ins):
                    if value is not None:
                        values[name] = value
    return values


def _assignments(ins: Instruction) -> Iterator[tuple[str, str | None, str]]:
    """`(name, value or None, raw word)` of an ENV or ARG instruction, both syntaxes."""
    words = ins.words()
    if not words:
        return
    if ins.keyword == "ENV" and "=" not in words[0]:
        # legacy `ENV NAME value with spaces`
        name, _, rest = ins.args.strip().partition(" ")
        yield name, rest.strip().strip("\"'") or None, ins.args.strip()
        return
    for word in words:
        name, eq, value = word.partition("=")
        if name:
            yield name, value if eq else None, word


# --- LG-DOCKER-001 ---------------------------------------------------------------------------


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-001",
    category="docker.root-user",
    severity=Severity.high,
    title="Container runs as root",
    message=(
        "The final stage sets no non-root USER, so the container's process runs as root: a "
        "break-out or a compromised process gets root's power over the container and any "
        "mounted host paths."
    ),
    remediation=(
        "Create an unprivileged user and switch to it at the end of the final stage, e.g. "
        "`RUN useradd --uid 10001 app` then `USER 10001`."
    ),
    references=["hadolint DL3002", "CIS Docker 4.1", "CKV_DOCKER_3", "CKV_DOCKER_8"],
)
def _root_user(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    final = df.final_stage
    for stage in df.lineage(final):
        users = list(stage.of("USER"))
        if not users:
            continue
        last = users[-1]
        raw = last.args.strip()
        value, ok = substitute(raw, _stage_values(df, stage, last.line))
        if not ok:
            return
        user = value.split(":", 1)[0].strip().strip("\"'").lower()
        if user in _ROOT_NAMES:
            yield Hit(file=df.file, line=last.line, evidence=f"USER {raw}")
        return
    root = df.lineage(final)[-1]
    if root.image is not None and "nonroot" in root.image.raw.lower():
        return
    yield Hit(
        file=df.file,
        line=final.line,
        evidence=f"no USER in the final stage (FROM {final.base})",
    )


# --- LG-DOCKER-002 ---------------------------------------------------------------------------


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-002",
    category="docker.latest-tag",
    severity=Severity.medium,
    title="Base image not pinned to a version",
    message=(
        "The FROM image has no tag or the tag `latest`, so each build may pull a different "
        "image: builds are not reproducible and a breaking or compromised release slips in "
        "unnoticed."
    ),
    remediation=(
        "Pin the base image to a version tag, better a digest: `FROM python:3.12-slim@sha256:…`."
    ),
    references=["hadolint DL3006", "hadolint DL3007", "CKV_DOCKER_7"],
)
def _latest_tag(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for stage in df.stages:
        image = stage.image
        if image is None or not image.is_latest_or_untagged:
            continue
        if "$" in image.raw:
            continue
        yield Hit(
            file=df.file,
            line=stage.line,
            evidence=f"FROM {image.raw}" + ("" if image.tag else " (no tag)"),
        )


# --- LG-DOCKER-003 ---------------------------------------------------------------------------


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-003",
    category="docker.add-instead-of-copy",
    severity=Severity.low,
    title="ADD used for local files",
    message=(
        "ADD copies local files but also unpacks archives and fetches URLs implicitly; for "
        "plain files COPY does exactly what it says, so nothing surprising lands in the image."
    ),
    remediation=(
        "Use COPY for local files and folders (keep ADD for local tar archives it should extract)."
    ),
    references=["hadolint DL3020", "CIS Docker 4.9", "CKV_DOCKER_4"],
)
def _add_instead_of_copy(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins in df.instructions:
        if ins.keyword != "ADD":
            continue
        words = ins.words()
        sources = words[:-1] if len(words) > 1 else words
        local = [s for s in sources if not _REMOTE.search(s) and not _ARCHIVE.search(s)]
        if local:
            yield Hit(file=df.file, line=ins.line, evidence=f"ADD {ins.args.strip()}"[:200])


# --- LG-DOCKER-004 ---------------------------------------------------------------------------


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-004",
    category="docker.healthcheck",
    severity=Severity.low,
    title="No HEALTHCHECK",
    message=(
        "The image defines no HEALTHCHECK, so Docker and Swarm cannot tell a hung container "
        "from a healthy one and will not restart or stop routing to it."
    ),
    remediation=(
        "Add a HEALTHCHECK to the final stage, e.g. `HEALTHCHECK CMD curl -fsS "
        "http://localhost:8080/healthz || exit 1`."
    ),
    references=["CIS Docker 4.6", "CKV_DOCKER_2"],
)
def _healthcheck(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    final = df.final_stage
    for stage in df.lineage(final):
        checks = list(stage.of("HEALTHCHECK"))
        if checks:
            last = checks[-1]
            if last.args.strip().upper().startswith("NONE"):
                yield Hit(file=df.file, line=last.line, evidence="HEALTHCHECK NONE")
            return
    yield Hit(
        file=df.file,
        line=final.line,
        evidence=f"no HEALTHCHECK in the final stage (FROM {final.base})",
    )


# --- LG-DOCKER-005 ---------------------------------------------------------------------------


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-005",
    category="docker.secrets-in-env",
    severity=Severity.high,
    title="Secret in ENV or ARG",
    message=(
        "An ENV or ARG holds what looks like a secret: its value is stored in the image "
        "layers and metadata, where anyone who can pull the image (or run `docker history`) "
        "reads it."
    ),
    remediation=(
        "Remove the value from the Dockerfile; pass secrets at run time (environment or "
        "mounted files) or at build time with `RUN --mount=type=secret`."
    ),
    references=["CIS Docker 4.10", "CKV_SECRET_6"],
)
def _secrets_in_env(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins in df.instructions:
        if ins.keyword not in ("ENV", "ARG"):
            continue
        for name, value, _ in _assignments(ins):
            if value is None or not is_secret_name(name):
                continue
            value = value.strip().strip("\"'")
            if not _literal_secret(value):
                continue
            yield Hit(file=df.file, line=ins.line, evidence=f"{ins.keyword} {name}={mask(value)}")


# --- LG-DOCKER-006 / 007 ---------------------------------------------------------------------


def _apt_subcommands(text: str) -> Iterator[tuple[str, list[str]]]:
    for pipeline in _simple_commands(text):
        for words in pipeline:
            name = _command_name(words)
            if name not in ("apt-get", "apt"):
                continue
            at = next(i for i, w in enumerate(words) if w.rsplit("/", 1)[-1].strip("\"'") == name)
            rest = words[at + 1 :]
            sub = next((w for w in rest if not w.startswith("-") and "=" not in w), None)
            if sub:
                yield sub, words


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-006",
    category="docker.apt-hygiene",
    severity=Severity.low,
    title="apt-get install without --no-install-recommends",
    message=(
        "apt installs recommended packages too unless told not to: the image grows and "
        "carries software (and vulnerabilities) nobody asked for."
    ),
    remediation="Use `apt-get install -y --no-install-recommends …`.",
    references=["hadolint DL3015"],
)
def _apt_recommends(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    configured: set[int] = set()
    for ins in df.instructions:
        if ins.keyword != "RUN":
            continue
        text = run_commands(ins)
        if _APT_RECOMMENDS_CONF.search(text) and "apt.conf" in text:
            configured.add(ins.stage)
        if any(s in configured for s in _lineage_indexes(df, ins.stage)):
            continue
        for sub, words in _apt_subcommands(text):
            if sub == "install" and not _NO_RECOMMENDS.search(" ".join(words)):
                yield Hit(file=df.file, line=ins.line, evidence=_clip(" ".join(words)))
                break


def _lineage_indexes(df: Dockerfile, stage_index: int) -> list[int]:
    return [s.index for s in df.lineage(df.stages[stage_index])]


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-007",
    category="docker.apt-hygiene",
    severity=Severity.low,
    title="apt lists not removed",
    message=(
        "This RUN calls `apt-get update` but does not remove /var/lib/apt/lists in the same "
        "layer: the package index (tens of MB) ships in the image and goes stale."
    ),
    remediation="End the same RUN with `&& rm -rf /var/lib/apt/lists/*`.",
    references=["hadolint DL3009"],
)
def _apt_lists(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    shipped = set(_lineage_indexes(df, df.final_stage.index))
    for ins in df.instructions:
        if ins.keyword != "RUN" or ins.stage not in shipped:
            continue
        if "/var/lib/apt" in ins.flags.get("mount", ""):
            continue
        text = run_commands(ins)
        if not any(sub == "update" for sub, _ in _apt_subcommands(text)):
            continue
        if _APT_LISTS_RM.search(text):
            continue
        yield Hit(file=df.file, line=ins.line, evidence=_clip("RUN " + " ".join(text.split())))


# --- LG-DOCKER-008 ---------------------------------------------------------------------------


def _pipes_to_shell(text: str) -> bool:
    if _SUBST_FETCH.search(text):
        return True
    for pipeline in _simple_commands(text):
        fetched = False
        for words in pipeline:
            name = _command_name(words)
            if fetched and name in _SHELLS:
                return True
            if name in _FETCHERS or any(w.strip("\"'`$") in _FETCHERS for w in words):
                fetched = True
    return False


@DOCKERFILE_RULES.rule(
    "LG-DOCKER-008",
    category="docker.curl-pipe-shell",
    severity=Severity.high,
    title="Remote script piped into a shell",
    message=(
        "A script downloaded at build time runs unseen and unverified: whoever controls the "
        "URL (or the network path to it) runs code in your build, and a failed download may "
        "run half a script."
    ),
    remediation=(
        "Download to a file, verify its checksum or signature (`ADD --checksum=…` or "
        "`sha256sum -c`), then run it; prefer a package manager or a pinned release artifact."
    ),
    references=["hadolint DL4006", "CIS Docker 4.2"],
)
def _curl_pipe_shell(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins in df.instructions:
        if ins.keyword != "RUN":
            continue
        text = run_commands(ins)
        if _pipes_to_shell(text):
            yield Hit(file=df.file, line=ins.line, evidence=_clip("RUN " + " ".join(text.split())))


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# === docker compose ==========================================================================
#
# The same ideas as the Kubernetes rules, for compose services (`compose.*` categories).

COMPOSE_RULES: RuleSet[ComposeFile] = RuleSet(agent="security")

_DANGEROUS_CAPS = frozenset(
    {"ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH", "NET_RAW",
     "SYS_RAWIO", "BPF", "PERFMON"}
)  # fmt: skip
_DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock", "/var/run/containerd")


def _services(cf: ComposeFile) -> Iterator[ComposeService]:
    if cf.problem is None:
        yield from cf.services


def _flag(cf: ComposeFile, key: str, wanted: Any) -> Iterator[Hit]:
    for svc in _services(cf):
        value = svc.body.get(key)
        if value is not None and str(value).strip().lower() == str(wanted).lower():
            yield Hit(
                file=cf.file,
                line=svc.line_of(key),
                resource=f"service/{svc.name}",
                evidence=f"{key}: {str(value).lower() if isinstance(value, bool) else value}",
            )


@COMPOSE_RULES.rule(
    "LG-COMPOSE-001",
    category="compose.privileged",
    severity=Severity.critical,
    title="Service runs privileged",
    message=(
        "`privileged: true` gives the container every capability and access to all host "
        "devices: escaping to the host is trivial."
    ),
    remediation=(
        "Remove `privileged: true`; add only the capabilities the service needs with `cap_add`."
    ),
    references=["CIS Docker 5.4"],
)
def _compose_privileged(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    yield from _flag(cf, "privileged", True)


@COMPOSE_RULES.rule(
    "LG-COMPOSE-002",
    category="compose.host-network",
    severity=Severity.high,
    title="Service shares the host network",
    message=(
        "`network_mode: host` removes network isolation: the service sees every host "
        "interface and can bind or sniff any host port."
    ),
    remediation="Use a bridge network and publish only the ports needed.",
    references=["CIS Docker 5.9"],
)
def _compose_host_network(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    yield from _flag(cf, "network_mode", "host")


@COMPOSE_RULES.rule(
    "LG-COMPOSE-003",
    category="compose.latest-tag",
    severity=Severity.medium,
    title="Service image not pinned to a version",
    message=(
        "The image has no tag or the tag `latest`: every `docker compose pull` may run "
        "different software, and a rollback has nothing to go back to."
    ),
    remediation="Pin the image to a version tag or a digest: `image: postgres:16.4@sha256:…`.",
    references=["hadolint DL3007"],
)
def _compose_latest(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    for svc in _services(cf):
        image = svc.body.get("image")
        if not isinstance(image, str) or not image.strip() or "build" in svc.body:
            continue
        resolved, ok = compose_interpolate(image.strip())
        if not ok:
            continue
        if parse_image_ref(resolved).is_latest_or_untagged:
            yield Hit(
                file=cf.file,
                line=svc.line_of("image"),
                resource=f"service/{svc.name}",
                evidence=f"image: {image}",
            )


@COMPOSE_RULES.rule(
    "LG-COMPOSE-004",
    category="compose.host-pid",
    severity=Severity.high,
    title="Service shares the host PID namespace",
    message="`pid: host` lets the container see and signal every process on the host.",
    remediation="Remove `pid: host`.",
    references=["CIS Docker 5.15"],
)
def _compose_host_pid(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    yield from _flag(cf, "pid", "host")


@COMPOSE_RULES.rule(
    "LG-COMPOSE-005",
    category="compose.host-ipc",
    severity=Severity.high,
    title="Service shares the host IPC namespace",
    message="`ipc: host` exposes the host's shared memory and IPC objects to the container.",
    remediation="Remove `ipc: host` (use `ipc: shareable` between services if needed).",
    references=["CIS Docker 5.16"],
)
def _compose_host_ipc(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    yield from _flag(cf, "ipc", "host")


def _volume_source(vol: Any) -> str | None:
    if isinstance(vol, str):
        return vol.split(":", 1)[0] if ":" in vol else None
    if isinstance(vol, dict) and vol.get("type", "volume") == "bind":
        src = vol.get("source")
        return str(src) if src is not None else None
    return None


@COMPOSE_RULES.rule(
    "LG-COMPOSE-006",
    category="compose.docker-socket",
    severity=Severity.critical,
    title="Docker socket mounted into a service",
    message=(
        "Whoever can talk to the Docker socket controls the Docker daemon, which runs as "
        "root: mounting it gives the container root on the host."
    ),
    remediation=(
        "Do not mount the Docker socket; if a tool needs the API, put a filtering proxy in "
        "front of it."
    ),
    references=["CIS Docker 5.31"],
)
def _compose_docker_socket(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    for svc in _services(cf):
        vols = svc.body.get("volumes")
        for i, vol in enumerate(vols if isinstance(vols, list) else []):
            src = _volume_source(vol)
            if src and src.rstrip("/").startswith(_DOCKER_SOCKETS):
                yield Hit(
                    file=cf.file,
                    line=svc.line_of("volumes", i),
                    resource=f"service/{svc.name}",
                    evidence=f"volume {src}",
                )


@COMPOSE_RULES.rule(
    "LG-COMPOSE-007",
    category="compose.capabilities",
    severity=Severity.high,
    title="Dangerous capability added",
    message=(
        "The service adds a Linux capability (SYS_ADMIN, NET_ADMIN, ALL…) that lets a "
        "compromised process act on the host kernel or network."
    ),
    remediation=(
        "Remove the capability from `cap_add`; prefer `cap_drop: [ALL]` plus the few the "
        "service needs."
    ),
    references=["CIS Docker 5.3"],
)
def _compose_caps(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    for svc in _services(cf):
        caps = svc.body.get("cap_add")
        for i, cap in enumerate(caps if isinstance(caps, list) else []):
            name = str(cap).upper().removeprefix("CAP_")
            if name in _DANGEROUS_CAPS:
                yield Hit(
                    file=cf.file,
                    line=svc.line_of("cap_add", i),
                    resource=f"service/{svc.name}",
                    evidence=f"cap_add: {cap}",
                )


def _environment(body: dict[str, Any]) -> Iterator[tuple[int | str, str, str | None]]:
    env = body.get("environment")
    if isinstance(env, dict):
        for k, v in env.items():
            yield str(k), str(k), None if v is None else str(v)
    elif isinstance(env, list):
        for i, item in enumerate(env):
            name, eq, value = str(item).partition("=")
            yield i, name, value if eq else None


@COMPOSE_RULES.rule(
    "LG-COMPOSE-008",
    category="compose.secrets-in-env",
    severity=Severity.high,
    title="Secret written into the compose file",
    message=(
        "An environment variable named like a secret has a literal value in the compose file: "
        "it is in the repository, in `docker inspect` and in every process listing of the env."
    ),
    remediation=(
        "Use `${VAR}` from an untracked .env file or the shell, or compose `secrets:` "
        "(mounted as files under /run/secrets)."
    ),
    references=["CIS Docker 4.10", "CKV_SECRET_6"],
)
def _compose_secrets(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    for svc in _services(cf):
        for key, name, value in _environment(svc.body):
            if value is None or not is_secret_name(name):
                continue
            v = value.strip().strip("\"'")
            if not _literal_secret(v):
                continue
            yield Hit(
                file=cf.file,
                line=svc.line_of("environment", key),
                resource=f"service/{svc.name}",
                evidence=f"{name}={mask(v)}",
            )


@COMPOSE_RULES.rule(
    "LG-COMPOSE-009",
    category="compose.seccomp",
    severity=Severity.high,
    title="Seccomp or AppArmor confinement switched off",
    message=(
        "`security_opt` sets seccomp or AppArmor to `unconfined`: the container may make any "
        "system call, which turns many kernel bugs into host compromises."
    ),
    remediation=(
        "Remove the `unconfined` option (Docker's default profiles apply) or use a custom profile."
    ),
    references=["CIS Docker 5.1", "CIS Docker 5.21"],
)
def _compose_seccomp(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    for svc in _services(cf):
        opts = svc.body.get("security_opt")
        for i, opt in enumerate(opts if isinstance(opts, list) else []):
            text = str(opt).replace(" ", "").lower()
            if text in ("seccomp:unconfined", "seccomp=unconfined") or text in (
                "apparmor:unconfined",
                "apparmor=unconfined",
            ):
                yield Hit(
                    file=cf.file,
                    line=svc.line_of("security_opt", i),
                    resource=f"service/{svc.name}",
                    evidence=f"security_opt: {opt}",
                )


@COMPOSE_RULES.rule(
    "LG-COMPOSE-010",
    category="compose.run-as-root",
    severity=Severity.medium,
    title="Service explicitly runs as root",
    message=(
        "`user: root` (or uid 0) overrides a non-root image user: a compromised process gets "
        "root in the container and on any mounted host path."
    ),
    remediation='Run as an unprivileged uid (`user: "10001:10001"`); fix file ownership instead.',
    references=["CIS Docker 4.1"],
)
def _compose_root(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    for svc in _services(cf):
        user = svc.body.get("user")
        if user is None:
            continue
        name = str(user).split(":", 1)[0].strip().lower()
        if name in _ROOT_NAMES:
            yield Hit(
                file=cf.file,
                line=svc.line_of("user"),
                resource=f"service/{svc.name}",
                evidence=f"user: {user}",
            )


def register(registry: Registry) -> None:
    """The `dockerfile` group (Dockerfile hardening) and `compose.security` (compose files)."""
    registry.parser("dockerfile", parse_dockerfile, [FileKind.dockerfile])
    registry.parser("compose", parse_compose, [FileKind.compose])
    registry.rules("dockerfile", "dockerfile", DOCKERFILE_RULES)
    registry.rules("compose.security", "compose", COMPOSE_RULES)
