"""docker compose validation for the DevOps agent: `ops.compose-invalid` findings.

What `docker compose config` would reject, checked offline: YAML that does not parse, a
service with neither `image` nor `build`, malformed `ports`, `depends_on` naming a service
that does not exist, named volumes and networks used but never declared. Override files
(`compose.override.yaml`, `docker-compose.prod.yml`) are judged together with the other
compose files of their folder, as compose merges them. Values with `${…}` are not judged.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from typing import Any

from llmgenie.core.models import FileKind, Severity

from ..parsing.compose import ComposeFile, ComposeService, parse_compose
from ..registry import Registry
from ..rules import Hit, RuleSet

__all__ = ["COMPOSE_VALIDATION_RULES", "port_problem"]

COMPOSE_VALIDATION_RULES: RuleSet[ComposeFile] = RuleSet(agent="devops")

_PORT = re.compile(r"^\d+(?:-\d+)?$")
_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})
_REFERENCE = ("Compose Specification (docs.docker.com/reference/compose-file/services/)",)


def _range(text: str) -> tuple[int, int] | None:
    if not _PORT.match(text):
        return None
    low, _, high = text.partition("-")
    lo, hi = int(low), int(high or low)
    if not (1 <= lo <= 65535 and 1 <= hi <= 65535 and lo <= hi):
        return None
    return lo, hi


def port_problem(entry: Any) -> str | None:
    """Why a `ports` entry is malformed (short or long syntax), or None when it is valid."""
    if isinstance(entry, bool):
        return f"{entry!r} is not a port"
    if isinstance(entry, int):
        return None if 1 <= entry <= 65535 else f"{entry} is out of range 1-65535"
    if isinstance(entry, dict):
        target = entry.get("target")
        if target is None:
            return "long syntax without `target`"
        if isinstance(target, str) and "$" in target:
            return None
        if _range(str(target)) is None:
            return f"target {target!r} is not a port"
        published = entry.get("published")
        if published is not None and "$" not in str(published) and _range(str(published)) is None:
            return f"published {published!r} is not a port or range"
        protocol = entry.get("protocol")
        if protocol is not None and str(protocol).lower() not in _PROTOCOLS:
            return f"protocol {protocol!r} is not tcp, udp or sctp"
        return None
    if not isinstance(entry, str):
        return f"{entry!r} is not a port mapping"
    text = entry.strip()
    if "$" in text:
        return None
    if not text:
        return "empty port mapping"
    body, slash, protocol = text.partition("/")
    if slash and protocol.lower() not in _PROTOCOLS:
        return f"{text!r}: protocol {protocol!r} is not tcp, udp or sctp"
    parts = body.rsplit(":", 2)
    container = parts[-1]
    host = parts[-2] if len(parts) >= 2 else None
    ip = parts[0] if len(parts) == 3 else None
    if _range(container) is None:
        return f"{text!r}: container port {container!r} is not a port or range"
    if host is not None and host != "" and _range(host) is None:
        if len(parts) == 2 and _is_ip(host):
            return f"{text!r}: an IP with no port (write {host}::{container})"
        return f"{text!r}: host port {host!r} is not a port or range"
    if host == "" and ip is None:
        return f"{text!r}: empty host port"
    if ip is not None and not _is_ip(ip):
        return f"{text!r}: {ip!r} is not an IP address"
    if host:
        h, c = _range(host), _range(container)
        if h and c and c[1] != c[0] and (h[1] - h[0]) != (c[1] - c[0]):
            return f"{text!r}: host and container port ranges differ in size"
    return None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return False
    return True


def _services(cf: ComposeFile) -> Iterator[ComposeService]:
    if cf.problem is None:
        yield from cf.services


def _hit(
    cf: ComposeFile, svc: ComposeService | None, line: int, evidence: str, message: str
) -> Hit:
    return Hit(
        file=cf.file,
        line=line,
        resource=f"service/{svc.name}" if svc else None,
        evidence=evidence,
        message=message,
    )


@COMPOSE_VALIDATION_RULES.rule(
    "LG-COMPOSE-101",
    category="ops.compose-invalid",
    severity=Severity.high,
    title="Compose file does not parse",
    message="docker compose cannot load this file, so none of its services start.",
    remediation="Fix the YAML (run `docker compose config` to see the error).",
    references=_REFERENCE,
)
def _unreadable(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    if cf.problem is not None:
        yield _hit(
            cf,
            None,
            cf.problem_line or 1,
            cf.problem,
            f"docker compose cannot load this file: {cf.problem}.",
        )


@COMPOSE_VALIDATION_RULES.rule(
    "LG-COMPOSE-102",
    category="ops.compose-invalid",
    severity=Severity.high,
    title="Service has neither image nor build",
    message=(
        "A service needs an `image` to pull or a `build` to make one; compose rejects this service."
    ),
    remediation="Add `image:` (pinned) or a `build:` context to the service.",
    references=_REFERENCE,
)
def _no_image(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    base: frozenset[str] | None = None
    for svc in _services(cf):
        if any(k in svc.body for k in ("image", "build", "extends")):
            continue
        if base is None:
            base = cf.sibling_definitions()[0]
        if svc.name in base:
            continue  # an override of a service the base file defines
        yield _hit(cf, svc, svc.line, f"service {svc.name}: no image, no build", "")


@COMPOSE_VALIDATION_RULES.rule(
    "LG-COMPOSE-103",
    category="ops.compose-invalid",
    severity=Severity.medium,
    title="Malformed port mapping",
    message=(
        "A `ports` entry is not `[IP:][HOST:]CONTAINER[/PROTOCOL]` (or a valid long form); "
        "compose rejects it."
    ),
    remediation='Write ports as quoted strings such as "8080:80" or "127.0.0.1:5432:5432/tcp".',
    references=_REFERENCE,
)
def _ports(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    for svc in _services(cf):
        for key in ("ports", "expose"):
            ports = svc.body.get(key)
            if ports is None:
                continue
            if not isinstance(ports, list):
                yield _hit(cf, svc, svc.line_of(key), f"{key}: not a list", "")
                continue
            for i, entry in enumerate(ports):
                problem = port_problem(entry if key == "ports" else str(entry).split("/")[0])
                if problem:
                    yield _hit(
                        cf, svc, svc.line_of(key, i), f"{key}[{i}]: {problem}",
                        f"Port entry {i} of service {svc.name} is malformed: {problem}.",
                    )  # fmt: skip


def _depends(body: dict[str, Any]) -> list[str]:
    deps = body.get("depends_on")
    if isinstance(deps, list):
        return [str(d) for d in deps]
    if isinstance(deps, dict):
        return [str(d) for d in deps]
    return []


@COMPOSE_VALIDATION_RULES.rule(
    "LG-COMPOSE-104",
    category="ops.compose-invalid",
    severity=Severity.high,
    title="depends_on names an unknown service",
    message="`depends_on` names a service no compose file here defines; compose refuses to start.",
    remediation="Fix the service name, or define that service.",
    references=_REFERENCE,
)
def _depends_on(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    known = {s.name for s in cf.services}
    siblings: frozenset[str] | None = None
    for svc in _services(cf):
        for dep in _depends(svc.body):
            if dep in known:
                continue
            if siblings is None:
                siblings = cf.sibling_definitions()[0]
            if dep in siblings:
                continue
            yield _hit(cf, svc, svc.line_of("depends_on"), f"depends_on: {dep}", "")


def _named_volume(vol: Any) -> str | None:
    if isinstance(vol, str):
        source, sep, _ = vol.partition(":")
        if not sep or not source or "$" in source:
            return None
        if source.startswith((".", "/", "~")) or "/" in source or "\\" in source:
            return None
        return source
    if isinstance(vol, dict) and vol.get("type", "volume") == "volume":
        src = vol.get("source")
        return str(src) if src and "$" not in str(src) else None
    return None


@COMPOSE_VALIDATION_RULES.rule(
    "LG-COMPOSE-105",
    category="ops.compose-invalid",
    severity=Severity.medium,
    title="Undeclared named volume or network",
    message=(
        "A service uses a named volume or network the file's top-level `volumes:`/`networks:` "
        "does not declare; compose refuses to start."
    ),
    remediation="Declare it under the top-level `volumes:` or `networks:` key (or fix the name).",
    references=_REFERENCE,
)
def _undeclared(cf: ComposeFile, ctx: Any) -> Iterable[Hit]:
    if cf.problem is not None:
        return
    vols_decl = cf.data.get("volumes")
    nets_decl = cf.data.get("networks")
    volumes = set(vols_decl) if isinstance(vols_decl, dict) else set()
    networks = set(nets_decl) if isinstance(nets_decl, dict) else set()
    networks.add("default")
    loaded = False
    for svc in _services(cf):
        vols = svc.body.get("volumes")
        for i, vol in enumerate(vols if isinstance(vols, list) else []):
            name = _named_volume(vol)
            if name is None or name in volumes:
                continue
            if not loaded:
                _, v, n = cf.sibling_definitions()
                volumes |= v
                networks |= n
                loaded = True
                if name in volumes:
                    continue
            yield _hit(cf, svc, svc.line_of("volumes", i), f"volume {name} not declared", "")
        nets = svc.body.get("networks")
        names = list(nets) if isinstance(nets, (list, dict)) else []
        for name in map(str, names):
            if name in networks or "$" in name:
                continue
            if not loaded:
                _, v, n = cf.sibling_definitions()
                volumes |= v
                networks |= n
                loaded = True
                if name in networks:
                    continue
            yield _hit(cf, svc, svc.line_of("networks"), f"network {name} not declared", "")


def register(registry: Registry) -> None:
    """The `compose.validation` group: compose files that would not start as written."""
    registry.parser("compose", parse_compose, [FileKind.compose])
    registry.rules("compose.validation", "compose", COMPOSE_VALIDATION_RULES)
