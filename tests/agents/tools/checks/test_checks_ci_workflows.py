"""GitHub Actions rules (LG-CI-*): each fires where a workflow breaks it and stays silent on its
near misses (tests/fixtures/ci_workflows); the parser keeps lines and refuses non-workflows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.catalog import rule_catalog
from llmgenie.agents.tools.checks.ci_workflows import CI_RULES
from llmgenie.agents.tools.parsing.base import ParseProblem
from llmgenie.agents.tools.parsing.workflows import (
    Workflow,
    is_workflow_path,
    parse_workflow_text,
)
from llmgenie.agents.tools.registry import default_registry
from llmgenie.core.render import render_sarif

FIXTURES = Path(__file__).parents[3] / "fixtures" / "ci_workflows"
CONTRACTS = Path(__file__).parents[4] / "docs" / "contracts.md"
WF = ".github/workflows/"


def _found(path: Path) -> set[tuple[str, str | None, int | None, str | None]]:
    return {
        (f.rule_id, f.file, f.line, f.resource)
        for f in scan(path, ["security"]).findings
        if f.rule_id.startswith("LG-CI-")
    }


def test_every_rule_fires_where_it_should() -> None:
    assert _found(FIXTURES / "fires") == {
        ("LG-CI-004", WF + "pr.yml", 6, "workflow"),
        ("LG-CI-007", WF + "pr.yml", 9, "job/build"),
        ("LG-CI-001", WF + "pr.yml", 11, "job/build"),
        ("LG-CI-002", WF + "pr.yml", 13, "job/build"),
        ("LG-CI-003", WF + "pr.yml", 17, "job/build"),
        ("LG-CI-003", WF + "pr.yml", 21, "job/build"),
        ("LG-CI-001", WF + "pr.yml", 24, "job/reuse"),
        ("LG-CI-004", WF + "release.yml", 6, "job/publish"),
        ("LG-CI-001", WF + "release.yml", 10, "job/publish"),
        ("LG-CI-006", WF + "release.yml", 13, "job/publish"),
        ("LG-CI-006", WF + "release.yml", 14, "job/publish"),
        ("LG-CI-005", WF + "nothing-set.yaml", 2, "workflow"),
        ("LG-CI-003", WF + "nothing-set.yaml", 6, "job/test"),
    }


def test_near_misses_stay_silent() -> None:
    assert _found(FIXTURES / "quiet") == set()


def test_every_rule_has_a_case_that_fires() -> None:
    assert {f[0] for f in _found(FIXTURES / "fires")} == {r.id for r in CI_RULES.rules}


def test_ignore_comment_suppresses_a_step(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "ci.yml").write_text(
        "on: push\npermissions: {contents: read}\njobs:\n  t:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      # llmgenie:ignore LG-CI-001\n      - uses: actions/checkout@v4\n"
        "      - uses: actions/setup-python@v5\n"
    )
    result = scan(tmp_path, ["security"])
    assert [(f.rule_id, f.line) for f in result.findings] == [("LG-CI-001", 9)]
    assert result.summary.suppressed == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("jobs: [a, b]\n", "no `jobs` mapping"),
        ("on: push\njobs:\n  a: {runs-on: x\n", "malformed YAML"),
        ("on: push\njobs: {}\n---\non: push\njobs: {}\n", "more than one YAML document"),
    ],
)
def test_what_is_not_a_workflow_is_a_parse_problem(text: str, reason: str) -> None:
    got = parse_workflow_text(text, WF + "x.yml")
    assert isinstance(got, ParseProblem)
    assert reason in got.reason


def test_bad_workflow_is_skipped_with_its_reason_not_a_traceback(tmp_path: Path) -> None:
    wf = tmp_path / ".github" / "workflows"
    wf.mkdir(parents=True)
    (wf / "broken.yml").write_text("on: push\njobs:\n  a: {runs-on: x\n")
    result = scan(tmp_path, ["security"])
    # not silently clean: the file it could not read is a finding of its own (decision 0029)
    assert [(f.category, f.file) for f in result.findings] == [
        ("ops.not-analysed", WF + "broken.yml")
    ]
    assert any(s.path == WF + "broken.yml" for s in result.summary.skipped)


def test_only_github_workflows_are_parsed() -> None:
    assert is_workflow_path(".github/workflows/ci.yml")
    assert is_workflow_path("sub/repo/.github/workflows/ci.yaml")
    assert not is_workflow_path(".gitlab-ci.yml")
    assert not is_workflow_path(".github/dependabot.yml")
    parsed = parse_workflow_text("'on': [push]\njobs:\n  a:\n    runs-on: x\n", WF + "q.yml")
    assert isinstance(parsed, Workflow) and parsed.triggers == frozenset({"push"})


def test_rules_are_the_security_agents_and_documented() -> None:
    registry = default_registry()
    assert any(rs is CI_RULES for rs in registry.rulesets(["security"]))
    assert not any(rs is CI_RULES for rs in registry.rulesets(["devops", "performance"]))
    documented = set(re.findall(r"`(ci\.[a-z-]+)`", CONTRACTS.read_text()))
    assert {r.category for r in CI_RULES.rules} <= documented
    assert all(r.references and r.remediation for r in CI_RULES.rules)


def test_sarif_carries_the_ci_rules() -> None:
    result = scan(FIXTURES / "fires", ["security"])
    run = json.loads(render_sarif(result, rule_catalog(["security"])))["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert {r.id for r in CI_RULES.rules} <= rule_ids
    lines = {
        (r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"])
        for r in run["results"]
    }
    assert ("LG-CI-002", 13) in lines
