"""Compose parsing: services with lines, interpolation, problems instead of exceptions."""

from __future__ import annotations

from pathlib import Path

from llmgenie.agents.tools.parsing.base import ParseProblem
from llmgenie.agents.tools.parsing.compose import (
    ComposeFile,
    interpolate,
    parse_compose,
    parse_compose_text,
)

COMPOSE = Path(__file__).parents[3] / "fixtures" / "compose"


def test_services_and_lines() -> None:
    cf = parse_compose(COMPOSE / "insecure.compose.yaml", "insecure.compose.yaml")
    assert isinstance(cf, ComposeFile) and cf.problem is None
    assert [(s.name, s.line) for s in cf.services] == [("web", 2), ("api", 17), ("cache", 23)]
    web = cf.services[0]
    assert web.line_of("volumes", 0) == 12
    assert web.line_of("environment", "DB_PASSWORD") == 15
    assert web.line_of("nope") == 2


def test_interpolation() -> None:
    assert interpolate("${REG:-ghcr.io}/app:${TAG-1.0}") == ("ghcr.io/app:1.0", True)
    assert interpolate("app:${TAG}") == ("app:${TAG}", False)
    assert interpolate("$$literal") == ("$literal", True)


def test_problems() -> None:
    bad = parse_compose_text("services:\n  web:\n   - x\n  y: [\n", "c.yaml")
    assert bad.problem and bad.problem.startswith("malformed YAML") and bad.services == []
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(9)
    )
    assert parse_compose_text(bomb, "bomb.yaml").problem
    deep = "services:\n  web:\n    x: " + "[" * 10000 + "]" * 10000 + "\n"
    assert parse_compose_text(deep, "deep.yaml").problem


def test_binary_is_a_parse_problem(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_bytes(b"\x00\x01\x02")
    assert isinstance(parse_compose(tmp_path / "compose.yaml", "compose.yaml"), ParseProblem)
