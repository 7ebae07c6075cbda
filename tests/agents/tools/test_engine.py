"""The scan engine: registration, two passes, skipped files, Kustomize/Helm, hostile trees."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from llmgenie.agents.tools import TOOLSETS, scan, scan_detailed
from llmgenie.agents.tools.base import ToolsetInput, ToolsetResult
from llmgenie.agents.tools.engine import run_engine
from llmgenie.agents.tools.helm_render import in_process_available
from llmgenie.agents.tools.parsing.kubernetes import K8sObject
from llmgenie.agents.tools.parsing.text import TextFile
from llmgenie.agents.tools.registry import Registry
from llmgenie.agents.tools.rules import Hit, RuleSet
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.agents.tools.scanning import Scan
from llmgenie.core.context import analyze
from llmgenie.core.models import FileKind, Finding, Severity

PRIVILEGED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: root, namespace: ops}
spec:
  containers:
    - name: shell
      image: busybox:1.36
      securityContext: {privileged: true}
"""

# A test-only agent in a registry of its own, so the product's registry is not disturbed.
_AGENT = "engine-test"
_TEXT_RULES: RuleSet[TextFile] = RuleSet(agent=_AGENT)
_K8S_RULES: RuleSet[K8sObject] = RuleSet(agent=_AGENT)
_CALLS: list[str] = []


@_TEXT_RULES.rule(
    "LG-TEST-001",
    category="test.todo",
    severity=Severity.info,
    title="TODO left in a file",
    message="a TODO",
    remediation="do it",
)
def _todo(subject: TextFile, ctx: Any) -> Iterator[Hit]:
    for n, line in enumerate(subject.lines, 1):
        if "TODO" in line:
            yield Hit(file=subject.file, line=n, evidence=line.strip())
            yield Hit(file=subject.file, line=n, evidence=line.strip())  # duplicate: dropped


@_K8S_RULES.rule(
    "LG-TEST-002",
    category="test.behind-service",
    severity=Severity.low,
    title="Pod behind a Service",
    message="selected by a Service",
    remediation="none",
)
def _behind(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    if ctx.services_for(o):
        yield Hit(
            file=o.file, line=o.line, resource=o.resource, evidence=",".join(ctx.services_for(o))
        )


@_K8S_RULES.rule(
    "LG-TEST-003",
    category="test.broken",
    severity=Severity.low,
    title="A rule that fails",
    message="boom",
    remediation="none",
)
def _broken(o: K8sObject, ctx: ScanContext) -> Iterator[Hit]:
    raise RuntimeError("rule bug")


def _collector(inp: ToolsetInput, scan: Scan, findings: list[Finding]) -> ToolsetResult:
    _CALLS.append("objects")
    return ToolsetResult(
        output={"objects": len(scan.index.objects), "findings_seen": len(findings)}
    )


def _collector_result(inp: ToolsetInput, scan: Scan, findings: list[Finding]) -> ToolsetResult:
    return ToolsetResult(notes=["collected"], output={"extra": True})


def _collector_broken(inp: ToolsetInput, scan: Scan, findings: list[Finding]) -> ToolsetResult:
    raise ValueError("collector bug")


_REGISTRY = Registry()
_REGISTRY.rules("test.text", "text", _TEXT_RULES)
_REGISTRY.rules("test.k8s", "k8s", _K8S_RULES)
_REGISTRY.collector("objects", _collector)
_REGISTRY.collector("result", _collector_result)
_REGISTRY.collector("broken", _collector_broken)
_REGISTRY.assign(_AGENT, ["test.text", "test.k8s"], ["objects", "result", "broken"])


def test_registered_rules_collectors_and_cross_resource_index(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("line\n# TODO: fix\n")
    (tmp_path / "app.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\n"
        "spec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: []}\n"
    )
    (tmp_path / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
        "spec: {selector: {app: web}}\n"
    )
    ctx = analyze(str(tmp_path))
    res = run_engine(tmp_path, ctx, [_AGENT], registry=_REGISTRY)
    agent = res.per_agent[_AGENT]
    got = {(f.rule_id, f.file, f.line, f.resource, f.evidence) for f in agent.findings}
    assert got == {
        ("LG-TEST-001", "notes.txt", 2, None, "# TODO: fix"),
        ("LG-TEST-002", "app.yaml", 1, "Deployment/shop/web", "Service/shop/web"),
    }
    assert agent.output == {"objects": 2, "findings_seen": 2, "extra": True}
    assert "collected" in agent.notes
    assert any("collector" in n and "collector bug" in n for n in agent.notes)
    assert any("LG-TEST-003" in n and "rule bug" in n for n in res.scan.summary.notes)
    assert res.scan.summary.by_severity == {"info": 1, "low": 1}
    assert res.scan.summary.files_scanned == 3


def test_toolset_protocol_runs_one_agent(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    ctx = analyze(str(tmp_path))
    out = TOOLSETS["security"].run(ToolsetInput(root=tmp_path, context=ctx))
    assert isinstance(out, ToolsetResult)
    assert "LG-K8S-001" in {f.rule_id for f in out.findings}
    assert {f.agent for f in out.findings} == {"security"}


def test_sink_streams_findings_instead_of_holding_them(tmp_path: Path) -> None:
    (tmp_path / "pod.yaml").write_text(PRIVILEGED_POD)
    held = scan_detailed(tmp_path, ["security"]).scan
    streamed: list[Finding] = []
    res = scan_detailed(tmp_path, ["security"], sink=streamed.append).scan
    assert res.findings == [] and held.findings
    assert sorted(f.id for f in streamed) == sorted(f.id for f in held.findings)
    assert res.summary.by_severity == held.summary.by_severity
    assert res.summary.by_category == held.summary.by_category


def test_unknown_agent_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown agent"):
        scan_detailed(tmp_path, ["nope"])


def test_hostile_tree_is_reported_and_the_rest_scanned(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(PRIVILEGED_POD)
    (tmp_path / "broken.yaml").write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: [\n")
    bomb = ['apiVersion: v1\nkind: ConfigMap\na: &a ["x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        bomb.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    (tmp_path / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    (tmp_path / "deep.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nx: " + "[" * 10_000 + "]" * 10_000 + "\n"
    )
    with (tmp_path / "huge.yaml").open("wb") as fh:  # 200 MB, sparse: cheap to make
        fh.write(b"apiVersion: v1\nkind: ConfigMap\n")
        fh.truncate(200 * 1024 * 1024)
    (tmp_path / "blob.yaml").write_bytes(b"apiVersion: v1\nkind: Pod\n\x00\xff\xfe")
    (tmp_path / "latin1.yaml").write_bytes(
        b"apiVersion: v1\nkind: Pod\nmetadata: {name: caf\xe9}\n"
    )
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (chart / "templates" / "svc.yaml").write_text(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n"
    )
    (tmp_path / "Dockerfile").write_text("# only a comment\n# and another\n")
    result = scan(tmp_path, ["security"])
    assert {(f.rule_id, f.resource) for f in result.findings if f.rule_id == "LG-K8S-001"} == {
        ("LG-K8S-001", "Pod/ops/root")
    }
    skipped = {s.path: s.reason for s in result.summary.skipped}
    assert "malformed YAML" in skipped["broken.yaml"]
    assert "nodes" in skipped["bomb.yaml"]
    assert "nesting" in skipped["deep.yaml"] or "malformed" in skipped["deep.yaml"]
    assert "MB" in skipped["huge.yaml"]
    assert skipped["blob.yaml"] == "binary file"
    assert "UTF-8" in skipped["latin1.yaml"]
    if shutil.which("helm") or in_process_available():  # rendered, its template not parsed
        assert "chart/Chart.yaml" not in skipped
    else:
        assert "not analysed" in skipped["chart/Chart.yaml"]
    assert "Helm template" in skipped["chart/templates/svc.yaml"]
    assert skipped.get("Dockerfile")  # reason worded by the Dockerfile parser


KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
namePrefix: prod-
resources:
  - deploy.yaml
"""


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")
def test_kustomize_rendered_and_mapped_back_to_raw_lines(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(KUSTOMIZATION)
    (tmp_path / "deploy.yaml").write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n  template:\n"
        "    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n"
        "          securityContext: {privileged: true}\n"
    )
    result = scan(tmp_path, ["security"])
    priv = [f for f in result.findings if f.rule_id == "LG-K8S-001"]
    assert [(f.resource, f.file, f.line) for f in priv] == [
        ("Deployment/prod/prod-web", "deploy.yaml", 10)
    ]
    # namespace set by kustomize: no default-namespace finding for the rendered object
    assert not [f for f in result.findings if f.rule_id == "LG-K8S-021"]
    assert any("rendered with kubectl kustomize" in n for n in result.summary.notes)


def test_kustomize_without_kubectl_scans_raw_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kustomization.yaml").write_text(KUSTOMIZATION)
    (tmp_path / "deploy.yaml").write_text(PRIVILEGED_POD)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    result = scan(tmp_path, ["security"])
    assert any("kubectl not on PATH, raw files scanned" in n for n in result.summary.notes)
    assert "Pod/ops/root" in {f.resource for f in result.findings if f.rule_id == "LG-K8S-001"}


def test_parsers_give_subjects_or_problems_and_nothing_else(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one\n")
    (tmp_path / "b.txt").write_text("two\n")

    def parse(path: Path, rel: str) -> Any:
        if rel == "a.txt":
            return [TextFile(path=path, file=rel, kind=FileKind.doc)]
        return {"not": "a subject"}

    registry = Registry()
    registry.parser("plain", parse, [FileKind.doc])
    registry.rules("test.plain", "plain", _TEXT_RULES)
    registry.assign(_AGENT, ["test.plain"])
    (tmp_path / "a.txt").write_text("TODO here\n")
    res = run_engine(tmp_path, analyze(str(tmp_path)), [_AGENT], registry=registry)
    found = [(f.file, f.category) for f in res.per_agent[_AGENT].findings]
    # a file its parser could not read is not silently clean (issue 19 point 7)
    assert found == [("a.txt", _TEXT_RULES.rules[0].category), ("b.txt", "ops.not-analysed")]
    skipped = {s.path: s.reason for s in res.scan.summary.skipped}
    assert skipped["b.txt"] == "parser gave a dict, not a subject"
