"""Performance rules: exact rule ids and resources on fixtures where they fire and where not."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.tools.checks.kubernetes_capacity import GROUPS
from llmgenie.agents.tools.parsing.kubernetes import K8sObject, iter_k8s_objects, iter_k8s_text
from llmgenie.agents.tools.parsing.quantity import java_size_bytes, quantity
from llmgenie.agents.tools.scan_context import ScanContext
from llmgenie.core.models import Finding

FIXTURES = Path(__file__).parents[3] / "fixtures" / "performance"


def _scan(name: str) -> list[Finding]:
    path = FIXTURES / name
    objects = [o for o in iter_k8s_objects(path, name) if isinstance(o, K8sObject)]
    ctx = ScanContext(root=FIXTURES)
    for o in objects:
        ctx.index(o)
    return [f for o in objects for rules in GROUPS.values() for f in rules.run(o, ctx)]


def _ids(findings: list[Finding]) -> set[tuple[str, str | None]]:
    return {(f.rule_id, f.resource) for f in findings}


def test_rules_fire_on_their_fixtures() -> None:
    got = _ids(_scan("fire.yaml"))
    assert got == {
        ("LG-PERF-001", "Deployment/shop/cpu-ratio"),
        ("LG-PERF-005", "Deployment/shop/cpu-ratio"),
        ("LG-PERF-006", "Deployment/shop/cpu-ratio"),
        ("LG-PERF-002", "StatefulSet/shop/db"),
        ("LG-PERF-005", "StatefulSet/shop/db"),
        ("LG-PERF-006", "StatefulSet/shop/db"),
        ("LG-PERF-003", "Deployment/shop/besteffort"),
        ("LG-PERF-004", "Deployment/shop/besteffort"),
        ("LG-PERF-006", "Deployment/shop/besteffort"),
        ("LG-PERF-005", "Deployment/shop/hpa-pinned"),
        ("LG-PERF-007", "Deployment/shop/hpa-pinned"),
        ("LG-PERF-008", "Deployment/shop/hpa-pinned"),
        ("LG-PERF-009", "Deployment/shop/hpa-pinned"),
        ("LG-PERF-005", "Deployment/shop/jvm-args"),
        ("LG-PERF-006", "Deployment/shop/jvm-args"),
        ("LG-PERF-008", "Deployment/shop/jvm-args"),
        ("LG-PERF-005", "Deployment/shop/fast-liveness"),
        ("LG-PERF-006", "Deployment/shop/fast-liveness"),
        ("LG-PERF-009", "Deployment/shop/fast-liveness"),
    }


def test_nothing_fires_on_a_well_sized_workload() -> None:
    assert _scan("pass.yaml") == []


def test_hpa_and_pdb_must_match_namespace_and_kind() -> None:
    assert _ids(_scan("cross.yaml")) == {
        ("LG-PERF-004", "Deployment/front/web"),
        ("LG-PERF-006", "Deployment/front/web"),
    }


def test_findings_carry_evidence_lines_and_severity() -> None:
    by_key = {(f.rule_id, f.resource): f for f in _scan("fire.yaml")}
    cpu = by_key[("LG-PERF-001", "Deployment/shop/cpu-ratio")]
    assert cpu.category == "perf.limit-request-ratio"
    assert cpu.evidence == "container app: cpu limit 2 is 20x request 100m"
    assert cpu.line == 20  # the `limits: {cpu: "2", …}` line
    assert cpu.references
    heap = by_key[("LG-PERF-008", "Deployment/shop/hpa-pinned")]
    assert heap.severity.value == "high"  # -Xmx1g == 1Gi limit
    assert heap.evidence == "container app: -Xmx1g is 100% of memory limit 1Gi"
    near = by_key[("LG-PERF-008", "Deployment/shop/jvm-args")]
    assert near.severity.value == "medium"  # 900m is 88% of 1Gi
    probe = by_key[("LG-PERF-009", "Deployment/shop/hpa-pinned")]
    assert "40s" in (probe.evidence or "") and "JVM" in (probe.evidence or "")
    single = by_key[("LG-PERF-004", "Deployment/shop/besteffort")]
    assert single.evidence == "spec.replicas: unset (defaults to 1); no PodDisruptionBudget"


@pytest.mark.parametrize(
    ("raw", "value"),
    [("500m", 0.5), ("2", 2.0), (1, 1.0), ("1Gi", 2.0**30), ("1e3", 1000.0), ("128M", 128e6)],
)
def test_quantities(raw: object, value: float) -> None:
    assert quantity(raw) == value


def test_bad_quantities_are_none() -> None:
    assert quantity("lots") is None
    assert quantity(None) is None
    assert quantity("5Xi") is None
    assert java_size_bytes("2G") == 2 * 2**30
    assert java_size_bytes("nope") is None


def test_slow_start_severity_depends_on_the_runtime() -> None:
    by_key = {(f.rule_id, f.resource): f for f in _scan("fire.yaml")}
    assert by_key[("LG-PERF-009", "Deployment/shop/hpa-pinned")].severity.value == "medium"  # JVM
    assert by_key[("LG-PERF-009", "Deployment/shop/fast-liveness")].severity.value == "low"


def _scan_text(text: str) -> list[Finding]:
    objects = [o for o in iter_k8s_text(text, "inline.yaml") if isinstance(o, K8sObject)]
    return [f for o in objects for rules in GROUPS.values() for f in rules.run(o, None)]


_JVM_POD = """\
apiVersion: v1
kind: Pod
metadata: {{name: jvm, namespace: shop}}
spec:
  containers:
    - name: app
      image: shop/app:1.0
      command: {command}
      env: [{{name: JAVA_OPTS, value: "{opts}"}}]
      resources:
        requests: {{memory: 2Gi}}
        limits: {{memory: 2Gi}}
"""


@pytest.mark.parametrize(
    ("command", "opts", "evidence"),
    [
        ('["sh", "-c", "exec java -Xmx2000m -jar /app.jar"]', "", "-Xmx2000m is 98%"),
        ('["java"]', "-XX:MaxRAMPercentage=95", "-XX:MaxRAMPercentage=95 leaves under 15%"),
        ('["java"]', "-XX:MaxHeapSize=1900m", "-XX:MaxHeapSize=1900m is 93%"),
    ],
)
def test_jvm_heap_flags_in_shell_commands_and_env(command: str, opts: str, evidence: str) -> None:
    (f,) = [f for f in _scan_text(_JVM_POD.format(command=command, opts=opts))]
    assert f.rule_id == "LG-PERF-008" and f.resource == "Pod/shop/jvm"
    assert evidence in (f.evidence or "")


@pytest.mark.parametrize(
    "opts", ["-XX:MaxRAMPercentage=75", "-Xmx1536m", "-Xms2g", "-Xmx1g -XX:+UseG1GC"]
)
def test_jvm_heap_with_headroom_passes(opts: str) -> None:
    assert _scan_text(_JVM_POD.format(command='["java"]', opts=opts)) == []


def test_ignore_annotation_suppresses_performance_rules(tmp_path: Path) -> None:
    from llmgenie.agents.tools.engine import run_engine
    from llmgenie.core.context import analyze

    manifest = (FIXTURES / "cross.yaml").read_text()
    (tmp_path / "web.yaml").write_text(
        manifest.replace(
            "  namespace: front\nspec:\n  replicas: 1",
            '  namespace: front\n  annotations:\n    llmgenie.io/ignore: "LG-PERF-006"\n'
            "spec:\n  replicas: 1",
            1,
        )
    )
    context = analyze(str(tmp_path))
    result = run_engine(tmp_path, context, ["performance"]).per_agent["performance"]
    assert {(f.rule_id, f.resource) for f in result.findings} == {
        ("LG-PERF-004", "Deployment/front/web")
    }
    assert result.suppressed == 1
