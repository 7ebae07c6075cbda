"""Helm charts rendered and analysed with no `helm` binary: Helm's engine in-process, offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from llmgenie.agents.tools import helm_render, scan
from llmgenie.agents.tools.helm_render import NOT_ANALYSED, not_analysed_line, render_chart
from llmgenie.agents.tools.scanning import clear_scan_cache
from llmgenie.core.models import ScanResult, ScanSummary, SkippedFile
from llmgenie.interfaces.cli.scan import _render_text

pytest.importorskip("helm_python", reason="the helm extra is not installed")

BITNAMI = Path("/work/shared/corpus/bitnami-charts/bitnami")

LIBRARY_CHART = "apiVersion: v2\nname: lib\ntype: library\nversion: 1.0.0\n"
LIBRARY_HELPERS = '{{- define "lib.fullname" -}}{{ .Release.Name }}-{{ .Chart.Name }}{{- end -}}\n'
APP_CHART = """\
apiVersion: v2
name: app
version: 0.1.0
dependencies:
  - name: lib
    version: 1.x.x
    repository: oci://registry.example.com/charts
"""
APP_VALUES = "privileged: true\nmetrics:\n  enabled: false\n"
DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "lib.fullname" . }}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.25
          securityContext:
            privileged: {{ .Values.privileged }}
"""
METRICS_SERVICE = """\
{{- if .Values.metrics.enabled }}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "lib.fullname" . }}-metrics
spec:
  ports: [{port: 9090}]
{{- end }}
"""


@pytest.fixture(autouse=True)
def no_helm_binary(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """PATH holds no `helm` (nor anything else): the in-process renderer is the only one."""
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))
    clear_scan_cache()
    yield
    clear_scan_cache()


def _charts(root: Path, with_library: bool = True) -> Path:
    """A charts monorepo: `app` depends on the library chart `lib` beside it, not vendored."""
    if with_library:
        (root / "lib" / "templates").mkdir(parents=True)
        (root / "lib" / "Chart.yaml").write_text(LIBRARY_CHART)
        (root / "lib" / "templates" / "_helpers.tpl").write_text(LIBRARY_HELPERS)
    (root / "app" / "templates").mkdir(parents=True)
    (root / "app" / "ci").mkdir()
    (root / "app" / "Chart.yaml").write_text(APP_CHART)
    (root / "app" / "values.yaml").write_text(APP_VALUES)
    (root / "app" / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    (root / "app" / "templates" / "metrics-svc.yaml").write_text(METRICS_SERVICE)
    (root / "app" / "ci" / "metrics-values.yaml").write_text("metrics:\n  enabled: true\n")
    return root


def test_a_chart_is_rendered_and_analysed_without_helm(tmp_path: Path) -> None:
    root = _charts(tmp_path)
    result = scan(root, ["security"])
    privileged = [f for f in result.findings if f.rule_id == "LG-K8S-001"]
    assert [f.resource for f in privileged] == ["Deployment//llmgenie-app"]
    assert "app/Chart.yaml" not in {s.path for s in result.summary.skipped}
    notes = "\n".join(result.summary.notes)
    assert (
        "Helm chart app: rendered with helm-python-sdk (defaults, ci/metrics-values.yaml)" in notes
    )
    assert "dependency lib from lib" in notes
    assert "Helm chart lib: a library chart" in notes
    assert not_analysed_line(result.summary.skipped) is None


def test_a_ci_values_file_adds_the_objects_it_turns_on_once(tmp_path: Path) -> None:
    root = _charts(tmp_path)
    r = render_chart(root, "app", None, 60.0)
    assert r.text is not None and r.engine == "helm-python-sdk"
    assert r.variants == ["defaults", "ci/metrics-values.yaml"]
    assert r.text.count("kind: Deployment") == 1  # in both variants, analysed once
    assert "name: llmgenie-app-metrics" in r.text  # only the CI variant renders it
    assert "# Source: app/templates/deployment.yaml" in r.text
    assert not list((root / "app").glob("charts"))  # the target is never written to


def test_a_dependency_the_target_lacks_is_a_note_and_the_chart_is_counted(
    tmp_path: Path,
) -> None:
    root = _charts(tmp_path, with_library=False)
    r = render_chart(root, "app", None, 60.0)
    assert r.text is None
    assert (
        "dependency lib (oci://registry.example.com/charts) not vendored in charts/: not fetched"
        in r.notes
    )
    assert r.reason == r.notes[0]  # the missing dependency, not the template error it causes
    assert any("lib.fullname" in n for n in r.notes)
    result = scan(root, ["security"])
    skipped = {s.path: s.reason for s in result.summary.skipped}
    assert skipped["app/Chart.yaml"].startswith(NOT_ANALYSED)
    text = _render_text(result)
    assert "\n1 Helm chart not analysed: app (dependency lib (oci://registry" in text


def test_without_the_extra_the_reason_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(helm_render, "_sdk", lambda: None)
    r = render_chart(_charts(tmp_path), "app", None, 60.0)
    assert r.text is None and "pip install 'llmgenie[helm]'" in r.reason


def test_the_summary_line_counts_names_and_says_why() -> None:
    skipped = [
        SkippedFile(path=f"charts/c{i}/Chart.yaml", reason=f"{NOT_ANALYSED}: helm not on PATH")
        for i in range(7)
    ] + [SkippedFile(path="a.png", reason="binary file")]
    assert not_analysed_line(skipped) == (
        "7 Helm charts not analysed: charts/c0, charts/c1, charts/c2, charts/c3, charts/c4"
        " and 2 more (helm not on PATH)"
    )
    text = _render_text(ScanResult(summary=ScanSummary(skipped=skipped)))
    assert text.splitlines()[-1].startswith("7 Helm charts not analysed")


@pytest.mark.skipif(not BITNAMI.is_dir(), reason="shared corpus not present")
def test_bitnami_charts_render_with_their_common_library_and_no_helm() -> None:
    result = scan(BITNAMI.parent, ["performance"])
    assert not_analysed_line(result.summary.skipped) is None
    for chart, workload in [
        ("redis", "StatefulSet/default/llmgenie-redis-master"),
        ("nginx", "Deployment/default/llmgenie-nginx"),
        ("postgresql", "StatefulSet/default/llmgenie-postgresql"),
    ]:
        assert any(
            n.startswith(f"Helm chart bitnami/{chart}: rendered with helm-python-sdk")
            for n in result.summary.notes
        )
        assert any(f.resource == workload for f in result.findings), workload


def test_a_file_dependency_outside_the_target_is_not_copied(tmp_path: Path) -> None:
    outside = _charts(tmp_path / "outside")  # a library chart, but not under the target
    root = tmp_path / "target"
    (root / "app" / "templates").mkdir(parents=True)
    (root / "app" / "Chart.yaml").write_text(
        APP_CHART.replace("oci://registry.example.com/charts", f"file://{outside / 'lib'}")
    )
    (root / "app" / "templates" / "deployment.yaml").write_text(DEPLOYMENT)
    r = render_chart(root, "app", None, 60.0)
    assert r.text is None
    assert any(n.startswith("dependency lib (file://") for n in r.notes)
