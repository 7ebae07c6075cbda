"""Dockerfile parsing: stages, images, flags, heredocs, lines, ignores, hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.tools.parsing.base import ParseProblem
from llmgenie.agents.tools.parsing.dockerfile import (
    Dockerfile,
    parse_dockerfile,
    parse_dockerfile_text,
    substitute,
)

DOCKER = Path(__file__).parents[3] / "fixtures" / "docker"


def _parse(text: str) -> Dockerfile:
    df = parse_dockerfile_text(text, "Dockerfile")
    assert isinstance(df, Dockerfile), df
    return df


def test_substitution() -> None:
    assert substitute("${A}:${B:-2}", {"A": "x"}) == ("x:2", True)
    assert substitute("$A-${C}", {"A": "x"}) == ("x-${C}", False)
    assert substitute("${A:+set}", {"A": "x"}) == ("set", True)


def test_stages_lines_flags_and_continuations() -> None:
    df = _parse(
        "ARG V=3.12\n"
        "FROM --platform=$BUILDPLATFORM python:${V} AS build\n"
        "RUN pip install \\\n"
        "    flask\n"
        "FROM build AS test\n"
        "FROM scratch\n"
        "COPY --from=build --chown=1:1 /a /b\n"
    )
    assert [(s.index, s.name, s.base, s.line, s.parent_stage) for s in df.stages] == [
        (0, "build", "python:3.12", 2, None),
        (1, "test", "build", 5, 0),
        (2, None, "scratch", 6, None),
    ]
    assert df.stages[0].platform == "$BUILDPLATFORM"
    assert df.stages[1].image is None and df.stages[2].image is None
    run = next(df.stages[0].of("RUN"))
    assert (run.line, run.end_line) == (3, 4)
    copy = next(df.final_stage.of("COPY"))
    assert copy.flags == {"from": "build", "chown": "1:1"} and copy.args == "/a /b"
    assert [s.index for s in df.lineage(df.stages[1])] == [1, 0]


def test_heredoc_body_belongs_to_its_instruction() -> None:
    df = _parse("FROM alpine:3.20\nRUN <<EOF\ncurl x | sh\n# not a comment\nEOF\nUSER app\n")
    run = next(df.final_stage.of("RUN"))
    assert run.heredocs == ["curl x | sh\n# not a comment"]
    assert (run.line, run.end_line) == (2, 5)
    assert [i.keyword for i in df.instructions] == ["FROM", "RUN", "USER"]
    assert next(df.final_stage.of("USER")).line == 6


def test_ignore_comment_placement() -> None:
    df = _parse(
        "# llmgenie:ignore LG-DOCKER-004\n"
        "FROM alpine:3.20\n"
        "# llmgenie:ignore LG-DOCKER-003, LG-DOCKER-005\n"
        "ADD a \\\n"
        "    /b\n"
        "ADD c /d\n"
        "# llmgenie:ignore-file LG-DOCKER-001\n"
    )
    assert df.is_suppressed("LG-DOCKER-004", 6)
    assert df.is_suppressed("LG-DOCKER-001", None)
    assert df.is_suppressed("LG-DOCKER-003", 4) and df.is_suppressed("LG-DOCKER-003", 5)
    assert not df.is_suppressed("LG-DOCKER-003", 6)
    assert df.suppressed_ids_for(5) == frozenset(
        {"LG-DOCKER-001", "LG-DOCKER-003", "LG-DOCKER-004", "LG-DOCKER-005"}
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("comments-only.Dockerfile", "no instructions"),
        ("invalid-utf8.Dockerfile", "invalid UTF-8"),
        ("binary.Dockerfile", "binary file"),
    ],
)
def test_hostile_files_are_parse_problems(name: str, reason: str) -> None:
    problem = parse_dockerfile(DOCKER / name, name)
    assert isinstance(problem, ParseProblem)
    assert problem.file == name and reason in problem.reason


@pytest.mark.parametrize(
    "text", ["", "\n\n", "RUN echo no from\n", "just some prose\nwith words\n"]
)
def test_not_a_dockerfile(text: str) -> None:
    assert isinstance(parse_dockerfile_text(text, "Dockerfile"), ParseProblem)


def test_missing_file(tmp_path: Path) -> None:
    problem = parse_dockerfile(tmp_path / "nope", "nope")
    assert isinstance(problem, ParseProblem) and problem.reason.startswith("unreadable")


def test_ignore_comment_must_sit_directly_above() -> None:
    df = _parse("FROM alpine:3.20\n# llmgenie:ignore LG-DOCKER-003\n\nADD a /b\n")
    assert not df.is_suppressed("LG-DOCKER-003", 4)
    df = _parse("FROM alpine:3.20\n# llmgenie:ignore LG-DOCKER-003\n# why: vendored\nADD a /b\n")
    assert df.is_suppressed("LG-DOCKER-003", 4)


def test_blank_and_comment_lines_inside_a_continuation() -> None:
    # Docker drops empty and comment lines inside a continued instruction; the RUN goes on.
    df = _parse(
        "FROM ubuntu:24.04\n"
        "RUN apt-get update && \\\n"
        "\n"
        "    # a comment\n"
        "    apt-get install -y curl && \\\n"
        "    rm -rf /var/lib/apt/lists/*\n"
        "USER app\n"
    )
    run = next(df.final_stage.of("RUN"))
    assert (run.line, run.end_line) == (2, 6)
    assert "rm -rf /var/lib/apt/lists/*" in run.args
    assert [(i.keyword, i.line) for i in df.instructions] == [("FROM", 1), ("RUN", 2), ("USER", 7)]


def test_pathologically_long_files_are_refused() -> None:
    # dockerfile-parse is quadratic on one long continuation; such input is bounded, not parsed
    problem = parse_dockerfile_text("FROM a\nRUN " + "x \\\n" * 50_000, "Dockerfile")
    assert isinstance(problem, ParseProblem) and "lines" in problem.reason
