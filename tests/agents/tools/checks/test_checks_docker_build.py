"""Dockerfile build rules, RUN parsed as shell: each rule fires on one file, none on the other."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.checks.docker import DOCKERFILE_RULES
from llmgenie.agents.tools.checks.docker_build import (
    DOCKERFILE_BUILD_RULES,
    DOCKERFILE_SUPPLY_CHAIN_RULES,
)
from llmgenie.agents.tools.parsing.dockerfile import Dockerfile, parse_dockerfile
from llmgenie.agents.tools.parsing.shell import commands
from llmgenie.core.models import Severity

ROOT = Path(__file__).parents[3] / "fixtures" / "docker_build"
NEW = (DOCKERFILE_SUPPLY_CHAIN_RULES, DOCKERFILE_BUILD_RULES)


def _df(rel: str) -> Dockerfile:
    df = parse_dockerfile(ROOT / rel, rel)
    assert isinstance(df, Dockerfile), df
    return df


def _hits(rel: str, rulesets: tuple = NEW) -> list[tuple[str, int]]:  # type: ignore[type-arg]
    df = _df(rel)
    return sorted((f.rule_id, f.line or 0) for rs in rulesets for f in rs.run(df, None))


def test_every_rule_fires_on_the_bad_dockerfile() -> None:
    assert _hits("bad/Dockerfile") == [
        ("LG-DOCKER-020", 3), ("LG-DOCKER-021", 4), ("LG-DOCKER-022", 2), ("LG-DOCKER-023", 5),
        ("LG-DOCKER-024", 13), ("LG-DOCKER-030", 5), ("LG-DOCKER-031", 6), ("LG-DOCKER-032", 7),
        ("LG-DOCKER-033", 8), ("LG-DOCKER-034", 9), ("LG-DOCKER-035", 10), ("LG-DOCKER-036", 11),
        ("LG-DOCKER-037", 6), ("LG-DOCKER-037", 7), ("LG-DOCKER-037", 12), ("LG-DOCKER-038", 12),
    ]  # fmt: skip
    fired = {i for i, _ in _hits("bad/Dockerfile")}
    assert fired == {r.id for rs in NEW for r in rs.rules}
    exposed = [f for f in DOCKERFILE_SUPPLY_CHAIN_RULES.run(_df("bad/Dockerfile"), None)]
    assert {f.severity for f in exposed if f.rule_id == "LG-DOCKER-024"} == {Severity.high}


def test_no_rule_fires_on_the_good_dockerfile() -> None:
    # pinned by digest, checksummed, SHELL with pipefail, versions pinned or unknown ($VAR),
    # caches off or cleaned, `cd /` only, a quoted "|" that is no pipe
    assert _hits("good/Dockerfile") == []


def test_shell_split_as_the_shell_splits() -> None:
    text = (
        'set -eux; case "$arch" in amd64 | arm64) dpkg -i x ;; *) echo "a | b" ;; esac; '
        "sudo -u app pip install y && curl -fsSL u | sh"
    )
    assert [(c.words, c.piped) for c in commands(text)] == [
        (("set", "-eux"), False),
        (("dpkg", "-i", "x"), False),
        (("echo", "a | b"), False),
        (("pip", "install", "y"), False),
        (("curl", "-fsSL", "u"), False),
        (("sh",), True),
    ]


#: docker-postgres (16 and 17, four variants each): every finding of the Dockerfile rules,
#: labelled by hand. All true: utilities installed without versions (postgres itself is pinned
#: with `$PG_VERSION`, unknown, not reported), `locale -a | grep` and `apt-mark showmanual |
#: xargs` without pipefail, `cd` into the build folder, no USER / HEALTHCHECK (the image
#: starts as root and drops to postgres with gosu: true as stated, a design choice).
_DEBIAN = [
    ("LG-DOCKER-001", 7), ("LG-DOCKER-004", 7),
    ("LG-DOCKER-030", 18), ("LG-DOCKER-030", 32), ("LG-DOCKER-030", 53), ("LG-DOCKER-030", 66),
    ("LG-DOCKER-030", 94), ("LG-DOCKER-035", 53), ("LG-DOCKER-035", 94), ("LG-DOCKER-036", 94),
]  # fmt: skip


def _alpine(run: int) -> list[tuple[str, int]]:
    return [
        ("LG-DOCKER-001", 7), ("LG-DOCKER-004", 7), ("LG-DOCKER-031", 21), ("LG-DOCKER-031", run),
        ("LG-DOCKER-035", run), ("LG-DOCKER-036", run),
    ]  # fmt: skip


POSTGRES = {
    "16/bookworm": _DEBIAN, "16/trixie": _DEBIAN, "17/bookworm": _DEBIAN, "17/trixie": _DEBIAN,
    "16/alpine3.22": _alpine(63), "16/alpine3.23": _alpine(63),
    "17/alpine3.22": _alpine(62), "17/alpine3.23": _alpine(62),
}  # fmt: skip


def test_labelled_findings_on_docker_postgres() -> None:
    every = (DOCKERFILE_RULES, *NEW)
    for variant, expected in POSTGRES.items():
        assert _hits(f"docker-postgres/{variant}/Dockerfile", every) == sorted(expected), variant
    new = sum(1 for exp in POSTGRES.values() for rule, _ in exp if rule >= "LG-DOCKER-020")
    assert new == 48
