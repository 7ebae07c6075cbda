"""docker compose file parsing: services with line numbers, bounded like the Kubernetes parser.

The YAML goes through `parsing.kubernetes.iter_yaml_documents` (C loader, depth and alias
caps). Malformed YAML is not an exception and not a silent skip: the `ComposeFile` carries a
`problem` (and its line) so the devops validation reports it as `ops.compose-invalid`;
security rules have nothing to judge on such a file. Binary or non-UTF-8 files are a
`ParseProblem`.

Compose files are often layered (`compose.yaml` plus `compose.override.yaml`): an override
may name a service without an image, or depend on a service defined in the base file.
`sibling_definitions()` gives an overlay the services, volumes and networks of the base
file(s) of its folder so validation does not call those wrong.

Suppression follows `ignore_comments`: `# llmgenie:ignore LG-COMPOSE-001` above a service
(or a key) covers the block under it; in the leading comment block, the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from .base import ParseProblem, Subject
from .ignore_comments import IgnoreMap, scan_ignore_comments
from .kubernetes import iter_yaml_documents, read_text, yaml_child

__all__ = [
    "COMPOSE_FILE_NAMES",
    "MAX_COMPOSE_BYTES",
    "ComposeFile",
    "ComposeService",
    "interpolate",
    "parse_compose",
    "parse_compose_text",
]

#: Largest compose file read.
MAX_COMPOSE_BYTES = 8 * 1024 * 1024
#: The names docker compose looks for by default, in its order of preference.
COMPOSE_FILE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")

_INTERP = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)"
)


def interpolate(value: str) -> tuple[str, bool]:
    """Expand `${VAR:-default}` to its default; second item False if a variable stays unknown."""
    ok = True

    def repl(m: re.Match[str]) -> str:
        nonlocal ok
        if m.group(2) in (":-", "-"):
            return m.group(3) or ""
        ok = False
        return m.group(0)

    return _INTERP.sub(repl, value.replace("$$", "\x00")).replace("\x00", "$"), ok


@dataclass
class ComposeService:
    """One service: its name, its mapping, and where it starts."""

    name: str
    body: dict[str, Any]
    line: int
    _node: Node | None = field(default=None, repr=False, compare=False)

    def line_of(self, *path: str | int) -> int:
        """Line of a key path inside the service (deepest present part), else the service's."""
        node, line = self._node, self.line
        for step in path:
            found = yaml_child(node, step)
            if found is None:
                return line
            line, node = found
        return line


@dataclass
class ComposeFile(Subject):
    """A parsed compose file; `problem` is set (and `data` empty) when the YAML is invalid."""

    file: str
    data: dict[str, Any]
    services: list[ComposeService]
    path: Path | None = None
    problem: str | None = None
    problem_line: int | None = None
    ignores: IgnoreMap = field(default_factory=IgnoreMap)
    _node: Node | None = field(default=None, repr=False, compare=False)

    def line_of(self, *path: str | int) -> int:
        node, line = self._node, 1
        for step in path:
            found = yaml_child(node, step)
            if found is None:
                return line
            line, node = found
        return line

    def sibling_definitions(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """Services, volumes and networks the base compose file(s) of this folder define.

        Only for an overlay (`compose.override.yaml`, `docker-compose.prod.yml`…): a base file
        (`compose.yaml`…) stands alone, as `docker compose` reads it.
        """
        if self.path is None or self.path.name in COMPOSE_FILE_NAMES:
            return frozenset(), frozenset(), frozenset()
        services: set[str] = set()
        volumes: set[str] = set()
        networks: set[str] = set()
        try:
            siblings = [
                p
                for p in self.path.parent.iterdir()
                if p != self.path and p.name in COMPOSE_FILE_NAMES and p.is_file()
            ]
        except OSError:
            siblings = []
        for p in sorted(siblings):
            try:
                st = p.stat()
            except OSError:
                continue
            s, v, n = _definitions(str(p), st.st_size, st.st_mtime_ns)
            services |= s
            volumes |= v
            networks |= n
        return frozenset(services), frozenset(volumes), frozenset(networks)

    def suppressed_ids_for(self, line: int | None) -> frozenset[str]:
        return self.ignores.suppressed_ids_for(line)

    def is_suppressed(self, rule_id: str, line: int | None) -> bool:
        return self.ignores.is_suppressed(rule_id, line)


@lru_cache(maxsize=128)
def _definitions(
    path: str, size: int, mtime_ns: int
) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    parsed = parse_compose(Path(path), Path(path).name)
    if not isinstance(parsed, ComposeFile) or parsed.problem:
        return frozenset(), frozenset(), frozenset()
    vols = parsed.data.get("volumes")
    nets = parsed.data.get("networks")
    return (
        frozenset(s.name for s in parsed.services),
        frozenset(vols) if isinstance(vols, dict) else frozenset(),
        frozenset(nets) if isinstance(nets, dict) else frozenset(),
    )


def parse_compose(path: Path, rel: str) -> ComposeFile | ParseProblem:
    """Read and parse one compose file; problems are returned, never raised."""
    text = read_text(path, rel, max_bytes=MAX_COMPOSE_BYTES, kind="a compose file")
    if isinstance(text, ParseProblem):
        return text
    parsed = parse_compose_text(text, rel)
    parsed.path = path
    return parsed


def parse_compose_text(text: str, rel: str) -> ComposeFile:
    """Parse compose YAML; an invalid file comes back with `problem` set."""
    lines = text.splitlines()
    out = ComposeFile(rel, {}, [], ignores=scan_ignore_comments(lines))
    documents = 0
    for item in iter_yaml_documents(text, rel):
        if isinstance(item, ParseProblem):
            out.problem, out.problem_line = item.reason, item.line
            return out
        documents += 1
        if documents > 1:
            out.problem, out.problem_line = "more than one YAML document in a compose file", None
            return out
        data, node = item
        if data is None:
            continue
        if not isinstance(data, dict):
            out.problem = f"top level is a {type(data).__name__}, not a mapping"
            out.problem_line = node.start_mark.line + 1
            return out
        out.data, out._node = data, node
    if not out.data:
        out.problem = "empty compose file"
        return out
    services = out.data.get("services")
    if (
        services is None
        and "version" not in out.data
        and not any(
            str(k).startswith("x-")
            or k in ("include", "volumes", "networks", "secrets", "configs", "name")
            for k in out.data
        )
    ):
        out.problem = "no `services` mapping"
        return out
    if services is not None and not isinstance(services, dict):
        out.problem, out.problem_line = "`services` is not a mapping", out.line_of("services")
        return out
    services_node = yaml_child(out._node, "services")
    for name, body in (services or {}).items():
        found = yaml_child(services_node[1], str(name)) if services_node else None
        out.services.append(
            ComposeService(
                name=str(name),
                body=body if isinstance(body, dict) else {},
                line=found[0] if found else out.line_of("services"),
                _node=found[1] if found else None,
            )
        )
    return out
