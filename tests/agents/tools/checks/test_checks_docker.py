"""Dockerfile and compose security rules: each fires where it must, and only there."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.docker import COMPOSE_RULES, DOCKERFILE_RULES
from llmgenie.agents.tools.parsing.compose import parse_compose
from llmgenie.agents.tools.parsing.dockerfile import Dockerfile, parse_dockerfile_text

FIXTURES = Path(__file__).parents[3] / "fixtures"
DOCKER = FIXTURES / "docker"
COMPOSE = FIXTURES / "compose"


def _docker_findings(text: str) -> set[tuple[str, int]]:
    df = parse_dockerfile_text(text, "Dockerfile")
    assert isinstance(df, Dockerfile), df
    return {(f.rule_id, f.line) for f in DOCKERFILE_RULES.run(df, None) if f.line is not None}


def _fixture(name: str) -> tuple[Dockerfile, list]:
    df = parse_dockerfile_text((DOCKER / name).read_text(), name)
    assert isinstance(df, Dockerfile), df
    return df, list(DOCKERFILE_RULES.run(df, None))


# --- the fixture files, verified by hand ------------------------------------------------------


def test_bad_dockerfile_fires_every_rule() -> None:
    _, findings = _fixture("bad.Dockerfile")
    assert sorted((f.rule_id, f.line) for f in findings) == [
        ("LG-DOCKER-001", 1),
        ("LG-DOCKER-002", 1),
        ("LG-DOCKER-003", 3),
        ("LG-DOCKER-004", 1),
        ("LG-DOCKER-005", 4),
        ("LG-DOCKER-005", 4),
        ("LG-DOCKER-005", 6),
        ("LG-DOCKER-006", 2),
        ("LG-DOCKER-007", 2),
        ("LG-DOCKER-008", 7),
        ("LG-DOCKER-008", 8),
        ("LG-DOCKER-008", 9),
    ]
    categories = {f.rule_id: f.category for f in findings}
    assert categories["LG-DOCKER-001"] == "docker.root-user"
    assert categories["LG-DOCKER-006"] == categories["LG-DOCKER-007"] == "docker.apt-hygiene"
    assert all(f.resource is None and f.file == "bad.Dockerfile" for f in findings)


def test_good_dockerfile_is_clean() -> None:
    _, findings = _fixture("good.Dockerfile")
    assert [(f.rule_id, f.line, f.evidence) for f in findings] == []


def test_secret_values_are_masked_in_evidence() -> None:
    _, findings = _fixture("bad.Dockerfile")
    evidence = sorted(f.evidence or "" for f in findings if f.rule_id == "LG-DOCKER-005")
    # the mask keeps no prefix of the value: `****` and a 4-hex hint (core.secrets.mask)
    assert [re.sub(r"\*\*\*\*[0-9a-f]{4}$", "****", e) for e in evidence] == [
        "ARG API_KEY=****",
        "ENV DB_PASSWORD=****",
        "ENV GITHUB_TOKEN=****",
    ]
    text = " ".join(f.model_dump_json() for f in findings)
    assert "SuperSecret123" not in text and "abcd1234efgh" not in text


def test_multistage_final_stage_is_judged() -> None:
    _, findings = _fixture("multistage-root.Dockerfile")
    # USER 1000 in the build stage does not count; USER 0:0 in the final stage does.
    assert sorted((f.rule_id, f.line) for f in findings) == [
        ("LG-DOCKER-001", 7),
        ("LG-DOCKER-002", 5),
        ("LG-DOCKER-004", 8),
    ]


def test_user_and_healthcheck_inherited_from_earlier_stage() -> None:
    _, findings = _fixture("inherit.Dockerfile")
    assert findings == []


def test_registry_port_stage_names_and_scratch() -> None:
    _, findings = _fixture("registry.Dockerfile")
    assert sorted((f.rule_id, f.line, f.evidence) for f in findings) == [
        ("LG-DOCKER-002", 2, "FROM registry.example.com:5000/team/app (no tag)"),
        ("LG-DOCKER-002", 4, "FROM localhost:5000/tools (no tag)"),
    ]


def test_heredoc_bodies_are_part_of_the_run() -> None:
    _, findings = _fixture("heredoc.Dockerfile")
    # the heredoc RUN updates without removing lists and pipes curl into bash; the
    # cache-mounted RUN leaves no lists behind.
    assert sorted((f.rule_id, f.line) for f in findings) == [
        ("LG-DOCKER-007", 3),
        ("LG-DOCKER-008", 3),
    ]


def test_ignore_comments_file_wide_and_next_instruction() -> None:
    df, findings = _fixture("suppressed.Dockerfile")
    kept = sorted((f.rule_id, f.line) for f in findings if not df.is_suppressed(f.rule_id, f.line))
    dropped = sorted((f.rule_id, f.line) for f in findings if df.is_suppressed(f.rule_id, f.line))
    assert kept == [("LG-DOCKER-003", 10)]
    assert dropped == [("LG-DOCKER-002", 5), ("LG-DOCKER-003", 8), ("LG-DOCKER-004", 5)]
    assert df.suppressed_ids_for(9) == frozenset({"LG-DOCKER-003", "LG-DOCKER-004"})


# --- edge cases, one rule at a time ------------------------------------------------------------

_HC = "HEALTHCHECK CMD true\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("FROM alpine:3.20\n" + _HC, {("LG-DOCKER-001", 1)}),
        ("FROM alpine:3.20\nUSER root\n" + _HC, {("LG-DOCKER-001", 2)}),
        ("FROM alpine:3.20\nUSER 0\n" + _HC, {("LG-DOCKER-001", 2)}),
        ("FROM alpine:3.20\nUSER root:wheel\n" + _HC, {("LG-DOCKER-001", 2)}),
        ("FROM alpine:3.20\nUSER root\nUSER nobody\n" + _HC, set()),
        ("FROM alpine:3.20\nUSER 10001:10001\n" + _HC, set()),
        ("FROM alpine:3.20\nARG U=root\nUSER ${U}\n" + _HC, {("LG-DOCKER-001", 3)}),
        ("FROM alpine:3.20\nUSER ${APP_UID}\n" + _HC, set()),
        ("FROM gcr.io/distroless/static:nonroot\n" + _HC, set()),
        ("ARG BASE\nFROM ${BASE}\n" + _HC, {("LG-DOCKER-001", 2)}),
        ("FROM alpine:3.20 AS a\nUSER app\nFROM alpine:3.20\n" + _HC, {("LG-DOCKER-001", 3)}),
    ],
)
def test_root_user(text: str, expected: set[tuple[str, int]]) -> None:
    found = {f for f in _docker_findings(text) if f[0] == "LG-DOCKER-001"}
    assert found == expected


@pytest.mark.parametrize(
    ("image", "fires"),
    [
        ("ubuntu", True),
        ("ubuntu:latest", True),
        ("docker.io/library/ubuntu", True),
        ("registry:5000/app", True),
        ("registry:5000/app:latest", True),
        ("ubuntu:24.04", False),
        ("registry:5000/app:1.2", False),
        ("ubuntu@sha256:" + "a" * 64, False),
        ("ubuntu:latest@sha256:" + "a" * 64, False),
        ("--platform=linux/amd64 node", True),
        ("--platform=$BUILDPLATFORM node:20", False),
        ("scratch", False),
        ("$UNRESOLVED", False),
    ],
)
def test_latest_tag(image: str, fires: bool) -> None:
    found = {
        f for f in _docker_findings(f"FROM {image}\nUSER app\n{_HC}") if f[0] == "LG-DOCKER-002"
    }
    assert found == ({("LG-DOCKER-002", 1)} if fires else set())


def test_latest_tag_arg_substitution_and_stage_reference() -> None:
    text = "ARG TAG=latest\nFROM node:${TAG} AS build\nFROM build\nUSER app\n" + _HC
    assert {f for f in _docker_findings(text) if f[0] == "LG-DOCKER-002"} == {("LG-DOCKER-002", 2)}
    text = "ARG TAG=20\nFROM node:${TAG} AS build\nFROM BUILD\nUSER app\n" + _HC
    assert {f for f in _docker_findings(text) if f[0] == "LG-DOCKER-002"} == set()


@pytest.mark.parametrize(
    ("add", "fires"),
    [
        ("ADD app.py /app/", True),
        ("ADD --chown=app:app src/ /app/", True),
        ('ADD ["a b.txt", "/app/"]', True),
        ("ADD https://example.com/tool.bin /usr/local/bin/", False),
        ("ADD --checksum=sha256:abc https://example.com/x.tgz /x", False),
        ("ADD rootfs.tar.xz /", False),
        ("ADD data.tgz /srv/", False),
        ("ADD bundle.zip /srv/", True),
        ("ADD git@github.com:moby/buildkit.git /src", False),
        ("COPY app.py /app/", False),
    ],
)
def test_add_instead_of_copy(add: str, fires: bool) -> None:
    found = {
        f
        for f in _docker_findings(f"FROM alpine:3.20\n{add}\nUSER app\n{_HC}")
        if f[0] == "LG-DOCKER-003"
    }
    assert found == ({("LG-DOCKER-003", 2)} if fires else set())


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        ("", {("LG-DOCKER-004", 1)}),
        ("HEALTHCHECK NONE\n", {("LG-DOCKER-004", 3)}),
        ("HEALTHCHECK --interval=5s CMD wget -q localhost\n", set()),
        ("HEALTHCHECK CMD true\nHEALTHCHECK NONE\n", {("LG-DOCKER-004", 4)}),
    ],
)
def test_healthcheck(tail: str, expected: set[tuple[str, int]]) -> None:
    found = {
        f
        for f in _docker_findings(f"FROM alpine:3.20\nUSER app\n{tail}")
        if f[0] == "LG-DOCKER-004"
    }
    assert found == expected


@pytest.mark.parametrize(
    ("line", "fires"),
    [
        ("ENV MYSQL_ROOT_PASSWORD=hunter2hunter2", True),
        ("ENV AWS_SECRET_ACCESS_KEY wJalrXUtnFEMI/K7MDENG", True),
        ('ENV A=1 CLIENT_SECRET="s e c r e t"', True),
        ("ARG NPM_TOKEN=npm_abcdef", True),
        ("ENV DB_PASS=letmein99", True),
        ("ARG NPM_TOKEN", False),
        ("ENV DB_PASSWORD=${DB_PASSWORD}", False),
        ("ENV DB_PASSWORD=", False),
        ("ENV PASSWORD_FILE=/run/secrets/pw", False),
        ("ENV TOKEN_TTL=3600", False),
        ("ENV PWD=/app", False),
        ("ENV GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D", False),
        ("ENV USE_TOKEN=true", False),
        ("ENV SSL_PRIVATE_KEY=/etc/ssl/private/key.pem", False),
        ("ENV APP_KEY=base64:Zm9vYmFyYmF6cXV4", True),
    ],
)
def test_secrets_in_env(line: str, fires: bool) -> None:
    found = {
        f
        for f in _docker_findings(f"FROM alpine:3.20\n{line}\nUSER app\n{_HC}")
        if f[0] == "LG-DOCKER-005"
    }
    assert found == ({("LG-DOCKER-005", 2)} if fires else set())


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("RUN apt-get update && apt-get install -y curl", {"LG-DOCKER-006", "LG-DOCKER-007"}),
        (
            "RUN apt-get update && apt-get install -y --no-install-recommends curl "
            "&& rm -rf /var/lib/apt/lists/*",
            set(),
        ),
        (
            "RUN apt-get -q update && apt-get -y -q install curl && rm -rf /var/lib/apt/lists/*",
            {"LG-DOCKER-006"},
        ),
        ("RUN apt install -y --no-install-recommends vim", set()),
        ("RUN apt-get update", {"LG-DOCKER-007"}),
        (
            'RUN ["/bin/sh", "-c", "apt-get update && apt-get install -y git"]',
            {"LG-DOCKER-006", "LG-DOCKER-007"},
        ),
        (
            "RUN --mount=type=cache,target=/var/lib/apt apt-get update "
            "&& apt-get install -y --no-install-recommends git",
            set(),
        ),
        ("RUN apk add --no-cache curl", set()),
        ("RUN echo apt-get install is documented here", set()),
    ],
)
def test_apt_hygiene(run: str, expected: set[str]) -> None:
    found = {r for r, _ in _docker_findings(f"FROM debian:12\n{run}\nUSER app\n{_HC}")}
    assert found & {"LG-DOCKER-006", "LG-DOCKER-007"} == expected


def test_apt_lists_only_matter_in_shipped_stages() -> None:
    text = (
        "FROM debian:12 AS build\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends gcc\n"
        "FROM debian:12\nCOPY --from=build /x /x\nUSER app\n" + _HC
    )
    assert {r for r, _ in _docker_findings(text)} == set()


def test_apt_recommends_configured_globally() -> None:
    text = (
        "FROM debian:12\n"
        "RUN echo 'APT::Install-Recommends \"0\";' > /etc/apt/apt.conf.d/no-recommends\n"
        "RUN apt-get update && apt-get install -y curl && rm -rf /var/lib/apt/lists/*\n"
        "USER app\n" + _HC
    )
    assert {r for r, _ in _docker_findings(text)} == set()


@pytest.mark.parametrize(
    ("run", "fires"),
    [
        ("RUN curl -fsSL https://x.io/install.sh | sh", True),
        ("RUN curl -fsSL https://x.io/install.sh | bash -s -- --yes", True),
        ("RUN wget -O - https://x.io/i.sh | sudo sh", True),
        ("RUN curl -s https://x.io/i.sh | tee /tmp/i.sh | sh", True),
        ('RUN bash -c "$(curl -fsSL https://x.io/i.sh)"', True),
        ("RUN bash <(curl -s https://x.io/i.sh)", True),
        (
            "RUN set -e; \\\n    curl -sL https://deb.nodesource.com/setup_20.x \\\n    | bash -",
            True,
        ),
        ("RUN curl -fsSL https://x.io/app.tgz | tar -xz -C /opt", False),
        ("RUN curl -o /tmp/i.sh https://x.io/i.sh && sh /tmp/i.sh", False),
        ("RUN echo hi | sh", False),
        ('RUN bash -c "curl -fsSL https://x.io/i.sh | bash"', True),
        ('RUN ["/bin/sh", "-c", "wget -qO- https://x.io/i.sh | sh"]', True),
    ],
)
def test_curl_pipe_shell(run: str, fires: bool) -> None:
    found = {
        f
        for f in _docker_findings(f"FROM alpine:3.20\n{run}\nUSER app\n{_HC}")
        if f[0] == "LG-DOCKER-008"
    }
    assert found == ({("LG-DOCKER-008", 2)} if fires else set())


# --- compose -----------------------------------------------------------------------------------


def _compose(name: str) -> list[tuple[str, int, str | None]]:
    cf = parse_compose(COMPOSE / name, name)
    assert not isinstance(cf, Exception)
    return sorted(
        (f.rule_id, f.line or 0, f.resource)
        for f in COMPOSE_RULES.run(cf, None)  # type: ignore[arg-type]
        if not cf.is_suppressed(f.rule_id, f.line)  # type: ignore[union-attr]
    )


def test_compose_insecure_file() -> None:
    assert _compose("insecure.compose.yaml") == [
        ("LG-COMPOSE-001", 4, "service/web"),
        ("LG-COMPOSE-002", 5, "service/web"),
        ("LG-COMPOSE-003", 3, "service/web"),
        ("LG-COMPOSE-003", 18, "service/api"),
        ("LG-COMPOSE-003", 24, "service/cache"),
        ("LG-COMPOSE-004", 6, "service/web"),
        ("LG-COMPOSE-005", 7, "service/web"),
        ("LG-COMPOSE-006", 12, "service/web"),
        ("LG-COMPOSE-007", 9, "service/web"),
        ("LG-COMPOSE-008", 15, "service/web"),
        ("LG-COMPOSE-008", 20, "service/api"),
        ("LG-COMPOSE-009", 28, "service/cache"),
        ("LG-COMPOSE-010", 25, "service/cache"),
    ]


def test_compose_categories_and_masking() -> None:
    cf = parse_compose(COMPOSE / "insecure.compose.yaml", "c.yaml")
    findings = list(COMPOSE_RULES.run(cf, None))  # type: ignore[arg-type]
    cats = {f.category for f in findings}
    assert cats == {
        "compose.privileged",
        "compose.host-network",
        "compose.latest-tag",
        "compose.host-pid",
        "compose.host-ipc",
        "compose.docker-socket",
        "compose.capabilities",
        "compose.secrets-in-env",
        "compose.seccomp",
        "compose.run-as-root",
    }
    secrets = sorted(f.evidence or "" for f in findings if f.category == "compose.secrets-in-env")
    assert [re.sub(r"\*\*\*\*[0-9a-f]{4}$", "****", e) for e in secrets] == [
        "API_TOKEN=****",
        "DB_PASSWORD=****",
    ]


def test_compose_secure_file_is_clean() -> None:
    assert _compose("secure.compose.yaml") == []


def test_compose_suppression() -> None:
    assert _compose("suppressed.compose.yaml") == [("LG-COMPOSE-001", 11, "service/third")]


def test_compose_invalid_yaml_has_no_security_findings() -> None:
    assert _compose("broken.compose.yaml") == []


@pytest.mark.parametrize(
    ("service", "expected"),
    [
        ('    privileged: "true"\n', {"LG-COMPOSE-001"}),
        ("    privileged: false\n", set()),
        ("    network_mode: bridge\n", set()),
        ("    user: root\n", {"LG-COMPOSE-010"}),
        ('    user: "1000:1000"\n', set()),
        ("    security_opt: [apparmor=unconfined]\n", {"LG-COMPOSE-009"}),
        ("    cap_add: [CAP_SYS_ADMIN]\n", {"LG-COMPOSE-007"}),
        ("    cap_add: [NET_BIND_SERVICE]\n", set()),
        (
            "    volumes:\n      - type: bind\n        source: /var/run/docker.sock\n"
            "        target: /var/run/docker.sock\n",
            {"LG-COMPOSE-006"},
        ),
        ("    volumes: [docker-data:/var/lib/docker]\n", set()),
        ("    environment: [GITHUB_TOKEN=ghp_x1y2z3w4]\n", {"LG-COMPOSE-008"}),
        ("    environment: [GITHUB_TOKEN]\n", set()),
    ],
)
def test_compose_rule_edges(tmp_path: Path, service: str, expected: set[str]) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  s:\n    image: busybox:1.36\n" + service)
    cf = parse_compose(tmp_path / "compose.yaml", "compose.yaml")
    assert {f.rule_id for f in COMPOSE_RULES.run(cf, None)} == expected  # type: ignore[arg-type]
