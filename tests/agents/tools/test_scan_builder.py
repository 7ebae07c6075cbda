"""The scan built once per target content and shared by every specialist, rule and collector."""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from llmgenie.agents import runner
from llmgenie.agents.specs import load_specs
from llmgenie.agents.tools import scanning
from llmgenie.agents.tools.parsing.kubernetes import POD_BEARING_KINDS
from llmgenie.agents.tools.scanning import build_scan, clear_scan_cache
from llmgenie.core.context import analyze
from llmgenie.core.models import AGENT_NAMES, AgentReport, Capability, StepStatus

KUBEFLOW = Path("/work/shared/corpus/kubeflow-manifests")
KUBECTL = shutil.which("kubectl")

KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: prod
resources:
  - deploy.yaml
"""
DEPLOY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
        - {name: app, image: "nginx:1.25", securityContext: {privileged: true}}
"""


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> Iterator[Counter[str]]:
    """Every `kubectl kustomize` / `helm template` the scan runs, by rendered folder."""
    clear_scan_cache()
    counted: Counter[str] = Counter()
    lock = threading.Lock()
    real = scanning.render

    def counting(cmd: list[str], timeout: float) -> tuple[str | None, str]:
        with lock:
            counted[cmd[-1]] += 1
        return real(cmd, timeout)

    monkeypatch.setattr(scanning, "render", counting)
    yield counted
    clear_scan_cache()


def _tree(root: Path) -> Path:
    (root / "kustomization.yaml").write_text(KUSTOMIZATION)
    (root / "deploy.yaml").write_text(DEPLOY)
    (root / "Dockerfile").write_text("FROM python:3.12\n")
    return root


def test_one_build_per_content_shared_by_sliced_contexts(tmp_path: Path) -> None:
    clear_scan_cache()
    root = _tree(tmp_path)
    context = analyze(str(root))
    specs = load_specs()
    first = build_scan(root, context)
    # each specialist sees its own slice of the context; the Kubernetes part is the same
    for name in AGENT_NAMES:
        assert build_scan(root, runner.slice_context(context, specs[name])) is first
    # a change under the target is a new scan
    (root / "deploy.yaml").write_text(DEPLOY.replace("nginx:1.25", "nginx:1.26"))
    second = build_scan(root, analyze(str(root)))
    assert second is not first
    images = {
        c["image"]
        for o in second.k8s_objects()
        for c in o.obj["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"nginx:1.26"}


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH")
def test_concurrent_specialists_wait_for_one_render(tmp_path: Path, renders: Counter[str]) -> None:
    root = _tree(tmp_path)
    context = analyze(str(root))
    with ThreadPoolExecutor(max_workers=4) as pool:
        scans = list(pool.map(lambda _: build_scan(root, context), range(4)))
    assert all(s is scans[0] for s in scans)
    assert renders == Counter({str(root): 1})
    (deploy,) = scans[0].rendered
    assert (deploy.resource, deploy.file, deploy.line) == ("Deployment/prod/web", "deploy.yaml", 1)


@pytest.mark.slow
@pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH")
@pytest.mark.skipif(not KUBEFLOW.is_dir(), reason="shared corpus not present")
def test_a_task_renders_each_kustomize_entry_point_once(renders: Counter[str]) -> None:
    """A tool-only run of the four specialists, as the specialist flow calls them (each with
    its slice of the context, three at once, then documentation after them)."""
    context = analyze(str(KUBEFLOW))
    specs = load_specs()
    caps = frozenset({Capability.read_target})

    def step(agent: str, prior: list[AgentReport]) -> AgentReport:
        sliced = runner.slice_context(context, specs[agent])
        result = runner.run_toolset(agent, KUBEFLOW, sliced, prior, caps)
        return AgentReport(
            id=agent,
            agent=agent,
            status=StepStatus.completed,
            findings=result.findings,
            output=result.output,
        )

    with ThreadPoolExecutor(max_workers=3) as pool:
        reports = list(pool.map(lambda a: step(a, []), ["devops", "security", "performance"]))
    reports.append(step("documentation", reports))
    by_agent = {r.agent: r for r in reports}

    kustomizations = {
        str(KUBEFLOW / f.path).rsplit("/", 1)[0] for f in context.files if f.kind == "kustomization"
    }
    assert len(renders) > 10 and set(renders) <= kustomizations
    assert set(renders.values()) == {1}, {k: v for k, v in renders.items() if v != 1}

    # the inventory and the security findings describe the same (rendered) objects
    inventory = by_agent["devops"].output["inventory"]
    listed = {
        item["resource"]
        for key in ("workloads", "services", "other_objects")
        for item in inventory[key]
    }
    k8s = [f for f in by_agent["security"].findings if f.rule_id.startswith("LG-K8S-")]
    assert k8s and {f.resource for f in k8s} <= listed
    workloads = {w["resource"] for w in inventory["workloads"]}
    judged = {f.resource for f in k8s if (f.resource or "").split("/")[0] in POD_BEARING_KINDS}
    assert judged == workloads
    assert "Deployment/auth/dex" in workloads  # the namespace kustomize sets, not the raw file's
    assert "runbooks" in by_agent["documentation"].output


@pytest.mark.skipif(KUBECTL is None, reason="kubectl not on PATH")
def test_nested_kustomizations_render_in_waves(tmp_path: Path, renders: Counter[str]) -> None:
    # the outer one names a remote base, so it is refused and the nested ones are tried:
    # `app/` renders and covers `app/overlay/`; `other/` renders on its own
    (tmp_path / "kustomization.yaml").write_text(
        "resources:\n  - https://example.com/base.yaml\n  - app\n"
    )
    for folder in ("app", "app/overlay", "other"):
        (tmp_path / folder).mkdir()
    _tree(tmp_path / "app")
    _tree(tmp_path / "other")
    (tmp_path / "app" / "overlay" / "kustomization.yaml").write_text("resources:\n  - ..\n")
    built = build_scan(tmp_path, analyze(str(tmp_path)))
    assert renders == Counter({str(tmp_path / "app"): 1, str(tmp_path / "other"): 1})
    assert [n.split(":")[0] for n in built.notes] == [
        "kustomize folder .",
        "kustomize folder app",
        "kustomize folder other",
    ]
    assert "remote resource" in built.notes[0]
    assert {o.resource for o in built.rendered} == {"Deployment/prod/web"}
    assert built.renders == 2
