"""Dockerfile rules on how the image is built (`docker.*`): the shell inside `RUN` parsed as
shell (`parsing.shell`), as hadolint does with ShellCheck's parser.

Two groups: `dockerfile.supply-chain` (security: what enters the image unverified or leaks from
it) and `dockerfile.build` (devops: reproducible, lean layers). Words holding a variable
(`postgresql-$PG_MAJOR=$PG_VERSION`, `"$pkg"`) are unknown and never judged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from llmgenie.core.models import FileKind, Severity

from ..parsing.dockerfile import Dockerfile, Instruction, parse_dockerfile
from ..parsing.image import parse_image_ref
from ..parsing.shell import Command, commands
from ..registry import Registry
from ..rules import Hit, RuleSet
from .docker import is_secret_name, run_commands

__all__ = ["DOCKERFILE_BUILD_RULES", "DOCKERFILE_SUPPLY_CHAIN_RULES"]

DOCKERFILE_SUPPLY_CHAIN_RULES: RuleSet[Dockerfile] = RuleSet(agent="security")
DOCKERFILE_BUILD_RULES: RuleSet[Dockerfile] = RuleSet(agent="devops")

_URL = re.compile(r"^https?://", re.I)


def _clip(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _runs(df: Dockerfile) -> Iterator[tuple[Instruction, list[Command]]]:
    for ins in df.instructions:
        if ins.keyword == "RUN":
            yield ins, list(commands(run_commands(ins)))


def _operands(args: Iterable[str], with_value: frozenset[str] = frozenset()) -> list[str]:
    """Non-option words, skipping the value of options that take one (`--virtual NAME`)."""
    out: list[str] = []
    skip = False
    for w in args:
        if skip:
            skip = False
            continue
        if w.startswith("-"):
            skip = w in with_value
            continue
        if w in (">", ">>", "<", "2>", ">&"):
            skip = True
            continue
        out.append(w)
    return out


def _unknown(word: str) -> bool:
    return "$" in word or "`" in word or "*" in word


# --- supply chain (security) --------------------------------------------------------------------


@DOCKERFILE_SUPPLY_CHAIN_RULES.rule(
    "LG-DOCKER-020",
    category="docker.add-url-checksum",
    severity=Severity.medium,
    title="ADD of a URL without --checksum",
    message=(
        "ADD downloads this file at build time and trusts whatever the server (or the network "
        "path to it) returns: nothing checks it is the file you meant."
    ),
    remediation="Add `--checksum=sha256:…` to the ADD, or download and verify with sha256sum.",
    references=["Docker ADD --checksum", "CKV_DOCKER_4"],
)
def _add_url_checksum(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins in df.instructions:
        if ins.keyword != "ADD" or "checksum" in ins.flags:
            continue
        sources = ins.words()[:-1]
        urls = [s for s in sources if _URL.match(s)]
        if urls:
            yield Hit(file=df.file, line=ins.line, evidence=_clip(f"ADD {urls[0]}"))


@DOCKERFILE_SUPPLY_CHAIN_RULES.rule(
    "LG-DOCKER-021",
    category="docker.copy-from-unpinned",
    severity=Severity.medium,
    title="COPY --from an image not pinned by digest",
    message=(
        "Files are copied from an external image by tag: the tag can move, so the build copies "
        "whatever that image holds today."
    ),
    remediation="Pin the image by digest (`--from=image:tag@sha256:…`) or build it as a stage.",
    references=["hadolint DL3022", "CIS Docker 4.2"],
)
def _copy_from_unpinned(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    stages = {s.name.lower() for s in df.stages if s.name}
    for ins in df.instructions:
        source = ins.flags.get("from", "").strip("\"'")
        if ins.keyword != "COPY" or not source or source.isdigit() or _unknown(source):
            continue
        if source.lower() in stages:
            continue
        ref = parse_image_ref(source)
        if ref is not None and not ref.digest:
            yield Hit(file=df.file, line=ins.line, evidence=f"COPY --from={source}")


@DOCKERFILE_SUPPLY_CHAIN_RULES.rule(
    "LG-DOCKER-022",
    category="docker.secret-arg",
    severity=Severity.high,
    title="Secret passed as a build argument",
    message=(
        "Build arguments are recorded in the image's history (`docker history`) and in build "
        "caches: a password or token given with --build-arg leaks with the image."
    ),
    remediation=(
        "Use a build secret: `RUN --mount=type=secret,id=token …` and "
        "`docker build --secret id=token,…`."
    ),
    references=["hadolint DL3064", "Docker build secrets"],
)
def _secret_arg(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins in df.instructions:
        if ins.keyword != "ARG":
            continue
        for word in ins.words():
            name = word.split("=", 1)[0]
            if is_secret_name(name):
                yield Hit(file=df.file, line=ins.line, evidence=f"ARG {name}")


@DOCKERFILE_SUPPLY_CHAIN_RULES.rule(
    "LG-DOCKER-023",
    category="docker.sudo",
    severity=Severity.medium,
    title="sudo in a RUN",
    message=(
        "sudo inside a build behaves unpredictably (TTY, environment) and means the image "
        "ships sudo, a privilege-escalation path for whoever gets a shell in the container."
    ),
    remediation="Run the step as root (`USER root` … `USER app`); use gosu/su-exec at runtime.",
    references=["hadolint DL3004", "CKV2_DOCKER_1"],
)
def _sudo(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins, cmds in _runs(df):
        hit = next((c for c in cmds if "sudo" in c.prefixes or c.name == "sudo"), None)
        if hit is not None:
            yield Hit(file=df.file, line=ins.line, evidence=_clip("sudo " + " ".join(hit.words)))


@DOCKERFILE_SUPPLY_CHAIN_RULES.rule(
    "LG-DOCKER-024",
    category="docker.privileged-port",
    severity=Severity.low,
    title="Privileged port exposed",
    message=(
        "A port below 1024 needs root or CAP_NET_BIND_SERVICE to bind, and port 22 means an "
        "SSH server in the container: run as a user on a port ≥ 1024."
    ),
    remediation="Listen on a port ≥ 1024 (map it to 80/443 outside); drop sshd, use exec.",
    references=["CKV_DOCKER_1", "hadolint DL3011"],
)
def _privileged_port(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins in df.instructions:
        if ins.keyword != "EXPOSE":
            continue
        for word in ins.words():
            port = word.split("/", 1)[0].split("-", 1)[0]
            if port.isdigit() and 0 < int(port) < 1024:
                yield Hit(
                    file=df.file,
                    line=ins.line,
                    evidence=f"EXPOSE {word}",
                    severity=Severity.high if int(port) == 22 else None,
                )


# --- build (devops) -----------------------------------------------------------------------------

_APT_INSTALL_ARGS = frozenset({"-o", "-t", "--target-release", "-c", "--config-file"})
_APK_ARGS = frozenset({"-t", "--virtual", "-X", "--repository", "-p", "--root", "--arch"})
_PIP_ARGS = frozenset(
    {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
     "--extra-index-url", "-f", "--find-links", "--target", "-t", "--prefix", "--root",
     "--trusted-host", "--platform", "--python-version", "--only-binary", "--no-binary"}
)  # fmt: skip
_NPM_ARGS = frozenset({"--prefix", "--registry", "-w", "--workspace"})
_GEM_ARGS = frozenset({"-v", "--version", "-i", "--install-dir", "-n", "--bindir", "--source"})


def _apt_unpinned(c: Command) -> list[str]:
    if c.name not in ("apt-get", "apt") or "install" not in c.args():
        return []
    ops = _operands(c.args()[c.args().index("install") + 1 :], _APT_INSTALL_ARGS)
    return [p for p in ops if "=" not in p and not p.endswith(".deb") and not _unknown(p)]


def _apk_unpinned(c: Command) -> list[str]:
    if c.name != "apk" or "add" not in c.args():
        return []
    ops = _operands(c.args()[c.args().index("add") + 1 :], _APK_ARGS)
    return [p for p in ops if "=" not in p and not p.endswith(".apk") and not _unknown(p)]


def _pip(c: Command) -> tuple[str, ...] | None:
    """The words after `install` of a pip install (`pip`, `pip3`, `python -m pip`)."""
    words = c.words
    if c.name.startswith("python") and "-m" in words[:3]:
        at = words.index("-m")
        words = words[at + 1 :]
    if not words or not re.fullmatch(r"pip[0-9.]*", words[0].rsplit("/", 1)[-1]):
        return None
    if "install" not in words:
        return None
    return words[words.index("install") + 1 :]


def _pip_unpinned(c: Command) -> list[str]:
    args = _pip(c)
    if args is None:
        return []
    return [
        p
        for p in _operands(args, _PIP_ARGS)
        if not re.search(r"===?|@|\.whl$|\.tar\.gz$|\.zip$", p)
        and not p.startswith((".", "/", "git+", "http"))
        and not _unknown(p)
        and p not in ("pip", "setuptools", "wheel")
    ]


def _npm_unpinned(c: Command) -> list[str]:
    if c.name not in ("npm", "pnpm", "yarn") or not c.args():
        return []
    if c.args()[0] not in ("install", "i", "add"):
        return []
    return [
        p
        for p in _operands(c.args()[1:], _NPM_ARGS)
        if "@" not in p[1:]
        and not p.startswith((".", "/", "git", "http"))
        and not _unknown(p)
        and not p.endswith((".tgz", ".tar.gz"))
    ]


def _rpm_unpinned(c: Command) -> list[str]:
    if c.name not in ("yum", "dnf", "microdnf", "zypper") or not c.args():
        return []
    sub = next((a for a in c.args() if not a.startswith("-")), "")
    if sub not in ("install", "in"):
        return []
    ops = _operands(c.args()[c.args().index(sub) + 1 :], frozenset({"--setopt", "-c"}))
    return [
        p
        for p in ops
        if not re.search(r"-\d|[=<>]", p)
        and not p.endswith(".rpm")
        and not _unknown(p)
        and not p.startswith(("http://", "https://", "/", "@"))
    ]


def _gem_unpinned(c: Command) -> list[str]:
    if c.name != "gem" or "install" not in c.args():
        return []
    args = c.args()[c.args().index("install") + 1 :]
    if any(a in ("-v", "--version") or a.startswith("--version=") for a in args):
        return []
    return [p for p in _operands(args, _GEM_ARGS) if ":" not in p and not _unknown(p)]


_UNPINNED = {
    "LG-DOCKER-030": ("apt-get", _apt_unpinned, "apt-get install pkg=version", "DL3008"),
    "LG-DOCKER-031": ("apk", _apk_unpinned, "apk add pkg=version", "DL3018"),
    "LG-DOCKER-032": ("pip", _pip_unpinned, "pip install pkg==version (or -r with pins)", "DL3013"),
    "LG-DOCKER-033": ("npm", _npm_unpinned, "npm install pkg@version", "DL3016"),
    "LG-DOCKER-034": ("gem", _gem_unpinned, "gem install pkg -v version", "DL3028"),
    "LG-DOCKER-038": ("yum/dnf/zypper", _rpm_unpinned, "dnf install pkg-1.2.3", "DL3041"),
}


def _pin_rule(rule_id: str, tool: str, find: Any, how: str, hadolint: str) -> None:
    @DOCKERFILE_BUILD_RULES.rule(
        rule_id,
        category="docker.unpinned-package",
        severity=Severity.low,
        title=f"{tool} packages installed without a version",
        message=(
            f"{tool} installs whatever version is current at build time: two builds of the "
            "same Dockerfile give different images, and an upstream change breaks or "
            "compromises the build unseen."
        ),
        remediation=f"Pin each package: `{how}`.",
        references=[f"hadolint {hadolint}"],
    )
    def check(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
        for ins, cmds in _runs(df):
            loose = [p for c in cmds for p in find(c)]
            if loose:
                yield Hit(file=df.file, line=ins.line, evidence=_clip(f"{tool}: {' '.join(loose)}"))


for _id, (_tool, _find, _how, _dl) in _UNPINNED.items():
    _pin_rule(_id, _tool, _find, _how, _dl)


@DOCKERFILE_BUILD_RULES.rule(
    "LG-DOCKER-035",
    category="docker.pipefail",
    severity=Severity.low,
    title="Piped RUN without pipefail",
    message=(
        "The shell reports only the last command of a pipe: `curl … | tar x` succeeds when the "
        "download fails, and the build goes on with a broken layer."
    ),
    remediation='Put `SHELL ["/bin/bash", "-o", "pipefail", "-c"]` before the RUN (or '
    "`set -o pipefail` at its start).",
    references=["hadolint DL4006"],
)
def _pipefail(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    shells: dict[int, bool] = {}
    for ins in df.instructions:
        stage = df.stages[ins.stage]
        if ins.keyword == "SHELL":
            words = ins.json_args() or []
            shells[ins.stage] = "pipefail" in words or not any(
                w.rsplit("/", 1)[-1] in ("sh", "bash", "ash", "dash", "zsh", "ksh") for w in words
            )
            continue
        if ins.keyword != "RUN" or ins.json_args() is not None:
            continue
        if any(shells.get(s.index) for s in df.lineage(stage)):
            continue
        text = run_commands(ins)
        if re.search(r"set\s+-[a-z]*o\s+pipefail|pipefail", text):
            continue
        piped = next((c for c in commands(text) if c.piped), None)
        if piped is not None:
            yield Hit(file=df.file, line=ins.line, evidence=_clip("| " + " ".join(piped.words)))


@DOCKERFILE_BUILD_RULES.rule(
    "LG-DOCKER-036",
    category="docker.cd-instead-of-workdir",
    severity=Severity.info,
    title="cd instead of WORKDIR",
    message=(
        "`cd` in a RUN changes the directory for that RUN only: the next instructions run "
        "elsewhere than they seem to, which WORKDIR makes explicit."
    ),
    remediation="Use `WORKDIR /path` before the RUN (or an absolute path in the command).",
    references=["hadolint DL3003"],
)
def _cd(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    for ins, cmds in _runs(df):
        cd = next((c for c in cmds if c.name == "cd" and c.args() and c.args()[0] != "/"), None)
        if cd is not None:
            yield Hit(file=df.file, line=ins.line, evidence=_clip(" ".join(cd.words)))


@DOCKERFILE_BUILD_RULES.rule(
    "LG-DOCKER-037",
    category="docker.package-cache",
    severity=Severity.low,
    title="Package manager cache kept in the layer",
    message=(
        "The package manager's download cache stays in this layer: the image carries files "
        "nothing uses."
    ),
    remediation=(
        "Use `apk add --no-cache`, `pip install --no-cache-dir`, or clean in the same RUN "
        "(`yum clean all`, `dnf clean all`, `rm -rf /var/cache/apk/*`); or a cache mount."
    ),
    references=["hadolint DL3019", "hadolint DL3042", "hadolint DL3032", "hadolint DL3040"],
)
def _package_cache(df: Dockerfile, ctx: Any) -> Iterable[Hit]:
    no_pip_cache = {
        s.index
        for ins in df.instructions
        if ins.keyword in ("ENV", "ARG") and re.search(r"PIP_NO_CACHE_DIR\W*(=|\s)\s*\S", ins.args)
        for s in df.stages
        if ins.stage in {x.index for x in df.lineage(s)}
    }
    for ins, cmds in _runs(df):
        if "type=cache" in ins.flags.get("mount", ""):
            continue
        text = run_commands(ins)
        cached = next((c for c in cmds if _keeps_cache(c, text, ins.stage in no_pip_cache)), None)
        if cached is not None:
            yield Hit(file=df.file, line=ins.line, evidence=_clip(" ".join(cached.words)))


_CLEANED = re.compile(r"\b(yum|dnf|microdnf|zypper)\s+clean\b|/var/cache/(yum|dnf|zypp)")


def _keeps_cache(c: Command, text: str, pip_env: bool) -> bool:
    if c.name == "apk" and "add" in c.args():
        return "--no-cache" not in c.args() and "/var/cache/apk" not in text
    args = _pip(c)
    if args is not None:
        return "--no-cache-dir" not in args and not pip_env
    if c.name in ("yum", "dnf", "microdnf", "zypper") and "install" in c.args():
        return not _CLEANED.search(text)
    return False


def register(registry: Registry) -> None:
    """`dockerfile.supply-chain` (security) and `dockerfile.build` (devops)."""
    registry.parser("dockerfile", parse_dockerfile, [FileKind.dockerfile])
    registry.rules("dockerfile.supply-chain", "dockerfile", DOCKERFILE_SUPPLY_CHAIN_RULES)
    registry.rules("dockerfile.build", "dockerfile", DOCKERFILE_BUILD_RULES)
