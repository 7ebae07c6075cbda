"""Kubernetes parsing: objects, lines, pod specs, containers; hostile YAML that must not hurt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from llmgenie.agents.tools.parsing import kubernetes as k8s
from llmgenie.agents.tools.parsing.base import ParseProblem
from llmgenie.agents.tools.parsing.kubernetes import (
    K8sObject,
    containers,
    iter_k8s_objects,
    iter_k8s_text,
    pod_spec,
)

MULTI = """\
# leading comment
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: shop
spec:
  initContainers:
    - name: init
      image: busybox:1.36
  containers:
    - name: app
      image: nginx:1.25
  ephemeralContainers:
    - name: debug
      image: busybox:1.36
---
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Service
    metadata: {name: web}
  - apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    spec:
      jobTemplate:
        spec:
          template:
            spec:
              containers:
                - name: job
                  image: alpine:3
"""


def _objects(text: str, rel: str = "m.yaml") -> list[K8sObject | ParseProblem]:
    return list(iter_k8s_text(text, rel))


def test_multi_document_list_flattened_with_lines() -> None:
    pod, svc, cron = _objects(MULTI)
    assert isinstance(pod, K8sObject) and isinstance(svc, K8sObject) and isinstance(cron, K8sObject)
    assert (pod.resource, pod.line) == ("Pod/shop/web", 2)
    assert (svc.resource, svc.line) == ("Service//web", 21)
    assert (cron.resource, cron.line) == ("CronJob//nightly", 24)
    assert pod.line_of("spec", "containers", 0, "image") == 13
    assert pod.line_of("spec", "nope") is None
    assert pod.line_near("spec", "containers", 0, "resources", "limits") == 12
    assert cron.line_of("spec", "jobTemplate", "spec", "template", "spec", "containers", 0) == 33


def test_pod_specs_and_all_container_kinds() -> None:
    pod, svc, cron = _objects(MULTI)
    assert pod_spec(svc) is None
    spec, path = pod_spec(cron)  # type: ignore[misc]
    assert spec is cron.obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert path == ("spec", "jobTemplate", "spec", "template", "spec")
    assert [c.name for c in containers(cron)] == ["job"]
    refs = list(containers(pod))
    assert [(c.kind, c.name, c.path) for c in refs] == [
        ("initContainer", "init", ("spec", "initContainers", 0)),
        ("container", "app", ("spec", "containers", 0)),
        ("ephemeralContainer", "debug", ("spec", "ephemeralContainers", 0)),
    ]


def test_json_manifest_and_json_with_tabs(tmp_path: Path) -> None:
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "j"}, "spec": {"containers": []}}
    (tmp_path / "a.json").write_text(json.dumps(doc, indent=2))
    (tmp_path / "b.json").write_text(json.dumps(doc, indent="\t"))
    for name in ("a.json", "b.json"):
        (obj,) = list(iter_k8s_objects(tmp_path / name, name))
        assert isinstance(obj, K8sObject) and obj.resource == "Pod//j"


def test_anchors_and_merge_keys_resolve() -> None:
    text = """\
kind: Deployment
metadata: {name: d}
x-common: &sc {runAsNonRoot: true}
spec:
  template:
    spec:
      securityContext:
        <<: *sc
        runAsUser: 1000
"""
    (obj,) = _objects(text)
    assert obj.obj["spec"]["template"]["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
    }


def test_ignore_annotation_on_object_or_pod_template() -> None:
    text = """\
kind: Deployment
metadata:
  name: d
  annotations: {llmgenie.io/ignore: "LG-K8S-001"}
spec:
  template:
    metadata:
      annotations: {llmgenie.io/ignore: "lg-k8s-013 LG-K8S-014"}
"""
    (obj,) = _objects(text)
    assert obj.suppressed_ids == {"LG-K8S-001", "LG-K8S-013", "LG-K8S-014"}
    assert obj.is_suppressed("LG-K8S-013") and not obj.is_suppressed("LG-K8S-002")


# -- hostile input: each becomes a ParseProblem, and what can be read still is ------------------


def _problems(items: list[K8sObject | ParseProblem]) -> list[ParseProblem]:
    return [i for i in items if isinstance(i, ParseProblem)]


def test_malformed_yaml_keeps_the_documents_before_it() -> None:
    items = _objects("kind: Pod\nmetadata: {name: ok}\n---\nkind: Pod\nmetadata: {name: [\n")
    assert [i.resource for i in items if isinstance(i, K8sObject)] == ["Pod//ok"]
    (problem,) = _problems(items)
    assert problem.reason.startswith("malformed YAML") and problem.line is not None


def test_alias_bomb_is_capped() -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{','.join(['*' + prev] * 9)}]")
    lines.append("kind: Pod")
    (problem,) = _objects("\n".join(lines))
    assert isinstance(problem, ParseProblem) and "nodes" in problem.reason


@pytest.mark.parametrize("style", ["block", "flow"])
def test_ten_thousand_levels_of_nesting(style: str) -> None:
    n = 10_000
    if style == "flow":
        text = "kind: Pod\nx: " + "[" * n + "]" * n + "\n"
    else:
        text = "kind: Pod\nx:\n" + "".join("  " * (i + 1) + "k:\n" for i in range(n))
    items = _objects(text)
    assert len(items) == 1 and isinstance(items[0], ParseProblem)


def test_depth_cap_below_libyaml_limit() -> None:
    depth = k8s.MAX_DEPTH + 10
    text = "kind: Pod\nx: " + "[" * depth + "]" * depth + "\n"
    (problem,) = _objects(text)
    assert isinstance(problem, ParseProblem) and "nesting" in problem.reason


def test_non_mapping_documents_and_missing_kind() -> None:
    items = _objects("- a\n- b\n---\njust a string\n---\nmetadata: {name: x}\n---\n---\n")
    reasons = [p.reason for p in _problems(items)]
    assert reasons == [
        "document 1 is not a mapping (list)",
        "document 2 is not a mapping (str)",
        "document 3 has no kind",
    ]


def test_binary_invalid_utf8_and_oversized_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "bin.yaml").write_bytes(b"kind: Pod\x00\x01\x02")
    (tmp_path / "latin.yaml").write_bytes(
        "kind: Pod\nmetadata: {name: caf\xe9}\n".encode("latin-1")
    )
    (tmp_path / "big.yaml").write_text("kind: Pod\n" + "# pad\n" * 100)
    monkeypatch.setattr(k8s, "MAX_FILE_BYTES", 200)
    reasons = {
        name: next(iter(iter_k8s_objects(tmp_path / name, name))).reason  # type: ignore[union-attr]
        for name in ("bin.yaml", "latin.yaml", "big.yaml")
    }
    assert reasons["bin.yaml"] == "binary file"
    assert reasons["latin.yaml"].startswith("invalid UTF-8")
    assert reasons["big.yaml"].startswith("file too large")


def test_helm_template_text_is_a_problem_not_a_crash() -> None:
    text = (
        "apiVersion: v1\nkind: Service\nmetadata:\n"
        "  name: {{ .Values.name }}\n  {{- if .Values.x }}\n"
    )
    items = _objects(text)
    assert all(isinstance(i, ParseProblem) for i in items) and items
