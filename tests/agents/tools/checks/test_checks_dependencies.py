"""Unpinned dependencies: exact lines on hand-checked requirements.txt and package.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.dependencies import (
    DEPENDENCY_RULES,
    DependencyManifest,
    npm_spec_problem,
    parse_dependency_manifest,
    pip_requirement_problem,
)
from llmgenie.agents.tools.parsing.base import ParseProblem

DEPS = Path(__file__).parents[3] / "fixtures" / "dependencies"


def _findings(name: str) -> list[tuple[int, str | None]]:
    m = parse_dependency_manifest(DEPS / name, name)
    assert isinstance(m, DependencyManifest), m
    return sorted(
        (f.line or 0, f.resource)
        for f in DEPENDENCY_RULES.run(m, None)
        if not m.is_suppressed(f.rule_id, f.line)
    )


def test_requirements_txt() -> None:
    assert _findings("requirements.txt") == [
        (15, "pip:requests"),
        (16, "pip:numpy"),
        (17, "pip:pandas"),
        (18, "pip:boto3"),
        (19, "pip:acmelib"),
        (20, "pip:mylib"),
    ]


def test_package_json() -> None:
    assert _findings("package.json") == [
        (6, "npm:lodash"),
        (8, "npm:left-pad"),
        (9, "npm:moment"),
        (12, "npm:debug"),
        (13, "npm:acme-ui"),
        (20, "npm:eslint"),
    ]


def test_category_and_agent() -> None:
    m = parse_dependency_manifest(DEPS / "package.json", "package.json")
    assert isinstance(m, DependencyManifest)
    f = next(iter(DEPENDENCY_RULES.run(m, None)))
    assert (f.rule_id, f.category, f.agent) == ("LG-DEP-001", "ops.unpinned-dependency", "devops")


@pytest.mark.parametrize(
    ("line", "pinned"),
    [
        ("flask==3.0.3", True),
        ("flask == 3.0.3", True),
        ("flask[async]==3.0.3; python_version>'3.8'", True),
        ("flask", False),
        ("flask>=3", False),
        ("flask!=3.0.0", False),
        ("flask==3.*", False),
        ("--extra-index-url https://x", True),
        ("-c constraints.txt", True),
        ("git+https://github.com/a/b.git@v1.2#egg=b", False),
        ("git+https://github.com/a/b.git@" + "a" * 40 + "#egg=b", True),
    ],
)
def test_pip_lines(line: str, pinned: bool) -> None:
    assert (pip_requirement_problem(line) is None) is pinned


@pytest.mark.parametrize(
    ("spec", "ok"),
    [
        ("1.2.3", True),
        ("^1.2.3", True),
        ("~1.2.3", True),
        ("1.x", True),
        ("workspace:*", True),
        ("npm:other@^2.0.0", True),
        ("*", False),
        ("x", False),
        ("latest", False),
        (">1.0.0", False),
        ("^1.0.0 || *", False),
        ("^1.0.0 || >=3", False),
        ("user/repo", False),
        ("user/repo#" + "b" * 40, True),
    ],
)
def test_npm_specs(spec: str, ok: bool) -> None:
    assert (npm_spec_problem(spec) is None) is ok


def test_other_manifests_and_bad_json(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module x\n\ngo 1.22\n")
    assert parse_dependency_manifest(tmp_path / "go.mod", "go.mod") is None
    (tmp_path / "package.json").write_text("{not json")
    assert isinstance(
        parse_dependency_manifest(tmp_path / "package.json", "package.json"), ParseProblem
    )
