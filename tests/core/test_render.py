"""Rendering: JSON of CONTRACTS.md, SARIF 2.1.0 valid against the shipped schema, Markdown."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.catalog import rule_catalog, rule_catalog_markdown
from llmgenie.core.models import Finding, ScanResult, Severity
from llmgenie.core.render import render, render_markdown, render_sarif, sarif_schema

FIXTURE = Path(__file__).parents[1] / "fixtures" / "k8s" / "insecure-pod.yaml"


@pytest.fixture(scope="module")
def result() -> ScanResult:
    return scan(FIXTURE, ["security"])


def test_json_has_the_contract_shape(result: ScanResult) -> None:
    doc = json.loads(render(result, "json"))
    assert set(doc) == {"findings", "summary"}
    f = doc["findings"][0]
    for key in (
        "id",
        "rule_id",
        "category",
        "severity",
        "agent",
        "title",
        "message",
        "file",
        "line",
        "resource",
        "evidence",
        "remediation",
        "references",
    ):
        assert key in f
    assert doc["summary"]["files_scanned"] == 1
    assert sum(doc["summary"]["by_severity"].values()) == len(doc["findings"])


def test_sarif_validates_against_the_sarif_2_1_0_schema(result: ScanResult) -> None:
    doc = json.loads(render_sarif(result, rule_catalog(["security"])))
    schema = sarif_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert {f"LG-K8S-{i:03d}" for i in range(1, 23)} <= set(rules)
    assert rules["LG-K8S-001"]["help"]["text"].startswith("A privileged container")
    assert rules["LG-K8S-001"]["properties"]["security-severity"] == "9.5"
    priv = [r for r in run["results"] if r["ruleId"] == "LG-K8S-001"]
    assert len(priv) == 1
    loc = priv[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "insecure-pod.yaml"
    assert loc["region"]["startLine"] == 9
    assert priv[0]["level"] == "error"
    assert run["tool"]["driver"]["rules"][priv[0]["ruleIndex"]]["id"] == "LG-K8S-001"


def test_the_schema_rejects_broken_sarif(result: ScanResult) -> None:
    doc = json.loads(render_sarif(result))
    bad = copy.deepcopy(doc)
    bad["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, sarif_schema())
    bad = copy.deepcopy(doc)
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, sarif_schema())


def test_sarif_for_findings_without_catalogue_or_file() -> None:
    f = Finding(
        rule_id="LG-X-1",
        category="x.y",
        severity=Severity.info,
        agent="devops",
        title="t",
        message="m",
    )
    doc = json.loads(render_sarif([f]))
    jsonschema.validate(doc, sarif_schema())
    assert doc["runs"][0]["tool"]["driver"]["rules"][0]["id"] == "LG-X-1"
    assert "locations" not in doc["runs"][0]["results"][0]


def test_markdown_groups_by_severity(result: ScanResult) -> None:
    md = render_markdown(result)
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    order = [h.split()[1] for h in headings if h.split()[1] != "Skipped"]
    assert order == sorted(order, key=["Critical", "High", "Medium", "Low", "Info"].index)
    assert order[0] == "Critical"
    assert "**LG-K8S-001** Container runs privileged — `insecure-pod.yaml:9`" in md
    assert "Fix: " in md and "Why: " in md


def test_unknown_format_is_refused(result: ScanResult) -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(result, "xml")


def test_catalogue_lists_every_rule_once() -> None:
    cat = rule_catalog()
    ids = [r.id for r in cat]
    assert len(ids) == len(set(ids))
    assert "LG-K8S-001" in ids and not any(i.startswith("LG-TEST") for i in ids)
    assert "| LG-K8S-007 | k8s.host-path | high |" in rule_catalog_markdown()
