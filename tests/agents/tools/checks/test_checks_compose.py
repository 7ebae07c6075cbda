"""Compose validation (`ops.compose-invalid`): what `docker compose config` would reject."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.compose import COMPOSE_VALIDATION_RULES, port_problem
from llmgenie.agents.tools.parsing.compose import ComposeFile, parse_compose

COMPOSE = Path(__file__).parents[3] / "fixtures" / "compose"


def _findings(rel: str) -> list[tuple[str, int, str | None]]:
    cf = parse_compose(COMPOSE / rel, rel)
    assert isinstance(cf, ComposeFile), cf
    found = list(COMPOSE_VALIDATION_RULES.run(cf, None))
    assert all(f.category == "ops.compose-invalid" and f.agent == "devops" for f in found)
    return sorted((f.rule_id, f.line or 0, f.resource) for f in found)


def test_invalid_compose_file() -> None:
    assert _findings("invalid.compose.yaml") == [
        ("LG-COMPOSE-102", 25, "service/worker"),
        ("LG-COMPOSE-103", 6, "service/web"),
        ("LG-COMPOSE-103", 7, "service/web"),
        ("LG-COMPOSE-103", 11, "service/web"),
        ("LG-COMPOSE-103", 13, "service/web"),
        ("LG-COMPOSE-103", 17, "service/web"),
        ("LG-COMPOSE-104", 18, "service/web"),
        ("LG-COMPOSE-105", 20, "service/web"),
        ("LG-COMPOSE-105", 24, "service/db"),
    ]


def test_malformed_yaml_is_a_finding_with_its_line() -> None:
    assert _findings("broken.compose.yaml") == [("LG-COMPOSE-101", 4, None)]


@pytest.mark.parametrize(
    "rel", ["secure.compose.yaml", "insecure.compose.yaml", "layered/compose.yaml"]
)
def test_valid_files_have_no_findings(rel: str) -> None:
    assert _findings(rel) == []


def test_override_is_judged_with_its_base_file() -> None:
    # web has no image here, depends on db and uses dbdata: all defined by compose.yaml
    assert _findings("layered/compose.override.yaml") == []


def test_override_without_its_base_file_is_invalid(tmp_path: Path) -> None:
    text = (COMPOSE / "layered" / "compose.override.yaml").read_text()
    (tmp_path / "compose.override.yaml").write_text(text)
    cf = parse_compose(tmp_path / "compose.override.yaml", "compose.override.yaml")
    assert isinstance(cf, ComposeFile)
    assert sorted(f.rule_id for f in COMPOSE_VALIDATION_RULES.run(cf, None)) == [
        "LG-COMPOSE-102",
        "LG-COMPOSE-102",
        "LG-COMPOSE-105",
    ]


@pytest.mark.parametrize(
    ("entry", "valid"),
    [
        ("3000", True),
        ("3000-3005", True),
        ("8000:8000", True),
        ("9090-9091:8080-8081", True),
        ("127.0.0.1:8001:8001", True),
        ("127.0.0.1::5000", True),
        ("[::1]:6001:6001", True),
        ("6060:6060/udp", True),
        ("${PORT}:80", True),
        (8080, True),
        ({"target": 80, "published": "8080", "protocol": "tcp"}, True),
        ("0:80", False),
        ("80:80/http", False),
        ("localhost:80:80", False),
        ("abc", False),
        (70000, False),
        ({"published": 80}, False),
        (True, False),
    ],
)
def test_port_syntax(entry: object, valid: bool) -> None:
    assert (port_problem(entry) is None) is valid


@pytest.mark.parametrize(
    "text",
    ["- a\n- b\n", "", "services: [web]\n", "a: 1\n---\nb: 2\n", "key: &a [*a]\n"],
)
def test_structurally_wrong_files_are_findings_not_crashes(tmp_path: Path, text: str) -> None:
    (tmp_path / "compose.yaml").write_text(text)
    cf = parse_compose(tmp_path / "compose.yaml", "compose.yaml")
    assert isinstance(cf, ComposeFile) and cf.problem
    assert [f.rule_id for f in COMPOSE_VALIDATION_RULES.run(cf, None)] == ["LG-COMPOSE-101"]
