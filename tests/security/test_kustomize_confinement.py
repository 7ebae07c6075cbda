"""Rendering is confined (issue 19 point 5): every kustomization field that names a file, folder
or URL is checked, a loopback URL is never fetched, and an unknown field stops the render."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from llmgenie.agents.tools import scan
from llmgenie.agents.tools.kustomize_helm import kustomize_refusal
from llmgenie.agents.tools.scanning import clear_scan_cache

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not on PATH")

DEPLOY = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n"
    "  template:\n    spec:\n      containers:\n        - name: app\n          image: nginx:1.25\n"
)
#: A transformer config kustomize would apply: it adds a label to every object.
LABELLER = (
    "apiVersion: builtin\nkind: LabelTransformer\nmetadata: {name: l}\n"
    "labels: {fetched: 'yes'}\nfieldSpecs: [{path: metadata/labels, create: true}]\n"
)


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server that records every request and serves a transformer config."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = LABELLER.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _kustomization(folder: Path, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kustomization.yaml").write_text(body)
    (folder / "deploy.yaml").write_text(DEPLOY)


@needs_kubectl
@pytest.mark.parametrize("field", ["transformers", "generators", "validators"])
def test_a_loopback_url_is_never_fetched(
    tmp_path: Path, recorder: tuple[str, list[str]], field: str
) -> None:
    url, hits = recorder
    target = tmp_path / "target"
    _kustomization(target, f"resources: [deploy.yaml]\n{field}:\n  - {url}/labeller.yaml\n")
    clear_scan_cache()

    result = scan(target, ["security"])

    assert hits == []
    assert any("not rendered" in n and "remote resource" in n for n in result.summary.notes), (
        result.summary.notes
    )


@needs_kubectl
def test_a_transformer_outside_the_target_is_not_rendered(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "kustomization.yaml").write_text("resources: [labeller.yaml]\n")
    (outside / "labeller.yaml").write_text(LABELLER)
    target = tmp_path / "target"
    _kustomization(target / "app", "resources: [deploy.yaml]\ntransformers: [../../outside]\n")
    clear_scan_cache()

    result = scan(target, ["security"])

    assert any("../../outside, outside the target" in n for n in result.summary.notes)
    assert "Deployment/shop/web" in {f.resource for f in result.findings}  # raw files scanned


@pytest.mark.parametrize(
    "body",
    [
        "transformers:\n  - ../../outside/t.yaml\n",
        "generators:\n  - ../../outside\n",
        "validators:\n  - ../../outside/v.yaml\n",
        "openapi:\n  path: ../../outside/schema.json\n",
        "replacements:\n  - path: ../../outside/r.yaml\n",
        "crds:\n  - ../../outside/crd.json\n",
        "configurations:\n  - ../../outside/c.yaml\n",
        "components:\n  - ../../outside\n",
        "secretGenerator:\n  - name: s\n    envs: [../../outside/.env]\n",
        "configMapGenerator:\n  - name: c\n    env: ../../outside/.env\n",
        "helmCharts:\n  - name: c\n    valuesFile: ../../outside/values.yaml\n",
        "helmGlobals:\n  chartHome: ../../outside\n",
        "patchesJson6902:\n  - target: {kind: Deployment}\n    path: ../../outside/p.yaml\n",
        "patchesStrategicMerge:\n  - ../../outside/p.yaml\n",
        "transformers:\n  - |\n    apiVersion: builtin\n    kind: PatchTransformer\n"
        "    metadata: {name: p}\n    path: ../../outside/p.yaml\n",
    ],
)
def test_every_field_that_names_a_file_is_checked(tmp_path: Path, body: str) -> None:
    root = tmp_path / "target"
    _kustomization(root / "app", body)
    assert "outside the target" in (kustomize_refusal(root, "app") or "")


@pytest.mark.parametrize(
    "body",
    [
        "helmCharts:\n  - name: c\n    repo: https://charts.example.com\n",
        "helmChartInflationGenerator:\n  - chartName: c\n    chartRepoUrl: http://127.0.0.1:1/\n",
        "generators:\n  - https://example.com/gen.yaml\n",
    ],
)
def test_a_remote_reference_in_any_field_is_refused(tmp_path: Path, body: str) -> None:
    root = tmp_path / "target"
    _kustomization(root / "app", body)
    assert "remote resource" in (kustomize_refusal(root, "app") or "")


def test_an_absolute_path_is_refused_even_inside_the_target(tmp_path: Path) -> None:
    root = tmp_path / "target"
    _kustomization(root / "app", f"resources:\n  - {root / 'app' / 'deploy.yaml'}\n")
    assert "an absolute path" in (kustomize_refusal(root, "app") or "")


def test_a_field_llmgenie_does_not_know_stops_the_render(tmp_path: Path) -> None:
    root = tmp_path / "target"
    _kustomization(root / "app", "resources: [deploy.yaml]\nfutureFiles: [../../x]\n")
    assert "field llmgenie does not check (futureFiles)" in (kustomize_refusal(root, "app") or "")


def test_inline_patches_and_known_fields_inside_the_target_are_fine(tmp_path: Path) -> None:
    root = tmp_path / "target"
    _kustomization(
        root / "app",
        "resources: [deploy.yaml]\nnamePrefix: dev-\nimages: [{name: nginx, newTag: '1.27'}]\n"
        "patches:\n  - patch: |\n      - op: add\n        path: /metadata/labels\n"
        "        value: {a: b}\n    target: {kind: Deployment}\n"
        "patchesStrategicMerge:\n  - |\n    apiVersion: apps/v1\n    kind: Deployment\n"
        "    metadata: {name: web}\n"
        "configMapGenerator:\n  - name: c\n    literals: [a=b]\n"
        "buildMetadata: [originAnnotations]\n",
    )
    assert kustomize_refusal(root, "app") is None
