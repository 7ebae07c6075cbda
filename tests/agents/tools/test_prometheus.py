"""The Prometheus right-sizing tool against a real HTTP server speaking the query API."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from llmgenie.agents.tools.base import ToolsetInput, ToolsetResult
from llmgenie.agents.tools.performance.collectors import collect_prometheus
from llmgenie.agents.tools.prometheus import (
    PrometheusClient,
    PrometheusError,
    Workload,
    WorkloadContainer,
    prometheus_findings,
)
from llmgenie.agents.tools.scanning import build_scan
from llmgenie.core.context import analyze
from llmgenie.core.models import Capability
from llmgenie.core.settings import get_settings
from tests.support.net import free_port

MiB = 1024 * 1024


def _vector(*samples: tuple[dict[str, str], float]) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": labels, "value": [1700000000.0, str(value)]} for labels, value in samples
            ],
        },
    }


def _labels(pod: str, container: str = "app", ns: str = "shop") -> dict[str, str]:
    return {"namespace": ns, "pod": pod, "container": container}


# Scripted answers: the first key found in the query picks the answer.
SCRIPT: dict[str, dict] = {
    "throttled": _vector(
        (_labels("api-7d4b9c8f6-x2x9z"), 0.62),  # Deployment api: throttled
        (_labels("web-5f6c7d8b9-abcde"), 0.05),  # Deployment web: fine
        (_labels("other-5f6c7d8b9-abcde"), 0.9),  # not in the target
    ),
    "working_set": _vector(
        (_labels("db-0", "postgres"), 950 * MiB),  # StatefulSet db: near its limit
        (_labels("web-5f6c7d8b9-abcde"), 100 * MiB),
    ),
    'resource="memory"': _vector(
        (_labels("db-0", "postgres"), 1024 * MiB),
        (_labels("web-5f6c7d8b9-abcde"), 512 * MiB),
    ),
    'resource="cpu"': _vector((_labels("api-7d4b9c8f6-x2x9z"), 0.5)),
    "restarts": _vector(
        (_labels("worker-x7k2p", "worker"), 12.0),  # DaemonSet worker: restarting
        (_labels("web-5f6c7d8b9-abcde"), 1.0),
    ),
}


class _Handler(BaseHTTPRequestHandler):
    script: dict[str, dict] = SCRIPT
    status = 200
    queries: list[str]

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path != "/api/v1/query":
            self._send(404, {"status": "error", "errorType": "not_found", "error": "no route"})
            return
        query = parse_qs(url.query).get("query", [""])[0]
        self.queries.append(query)
        for key, answer in self.script.items():
            if key in query:
                self._send(self.status, answer)
                return
        self._send(200, _vector())

    def _send(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


def _serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def prometheus() -> Iterator[tuple[str, list[str]]]:
    queries: list[str] = []
    handler = type("H", (_Handler,), {"queries": queries})
    for url in _serve(handler):
        yield url, queries


@pytest.fixture
def failing_prometheus() -> Iterator[str]:
    error = {"status": "error", "errorType": "bad_data", "error": "parse error at char 3"}
    handler = type("H", (_Handler,), {"queries": [], "status": 400, "script": {"": error}})
    yield from _serve(handler)


WORKLOADS = [
    Workload("Deployment", "shop", "api", "deploy/api.yaml", 1, "Deployment/shop/api"),
    Workload(
        "Deployment",
        "shop",
        "web",
        "deploy/web.yaml",
        1,
        "Deployment/shop/web",
        (WorkloadContainer("app", memory_limit_bytes=512 * MiB),),
    ),
    Workload("StatefulSet", "", "db", "deploy/db.yaml", 3, "StatefulSet//db"),
    Workload("DaemonSet", "shop", "worker", "deploy/worker.yaml", 1, "DaemonSet/shop/worker"),
]


def test_findings_tie_measurements_to_target_workloads(prometheus: tuple[str, list[str]]) -> None:
    url, queries = prometheus
    findings, output = prometheus_findings(url, WORKLOADS)
    got = sorted((f.category, f.resource, f.severity.value) for f in findings)
    assert got == [
        ("perf.cpu-throttling", "Deployment/shop/api", "high"),
        ("perf.memory-near-limit", "StatefulSet//db", "high"),
        ("perf.restarts", "DaemonSet/shop/worker", "high"),
    ]
    by_cat = {f.category: f for f in findings}
    assert by_cat["perf.cpu-throttling"].evidence == (
        "container app: 62% of CFS periods throttled (5m rate)"
    )
    assert "0.5 to about 0.9 cores" in (by_cat["perf.cpu-throttling"].remediation or "")
    assert by_cat["perf.memory-near-limit"].file == "deploy/db.yaml"
    assert by_cat["perf.memory-near-limit"].line == 3
    assert "1235Mi" in (by_cat["perf.memory-near-limit"].remediation or "")
    assert output["pods_not_in_target"] == 1
    assert any("container_cpu_cfs_throttled_periods_total" in q for q in queries)
    assert any("kube_pod_container_status_restarts_total" in q for q in queries)


def test_healthy_workloads_give_no_findings(prometheus: tuple[str, list[str]]) -> None:
    url, _ = prometheus
    findings, output = prometheus_findings(url, [WORKLOADS[1]])
    assert findings == []
    assert output["usage"][0]["resource"] == "Deployment/shop/web"
    assert output["usage"][0]["memory_working_set_bytes"] == 100 * MiB


def test_pod_names_match_their_controller() -> None:
    deploy = WORKLOADS[0]
    assert deploy.owns("shop", "api-7d4b9c8f6-x2x9z")
    assert not deploy.owns("shop", "api-gateway-7d4b9c8f6-x2x9z")
    assert not deploy.owns("other", "api-7d4b9c8f6-x2x9z")
    sts = WORKLOADS[2]
    assert sts.owns("anywhere", "db-12")
    assert not sts.owns("anywhere", "db-x")


def test_erroring_server_gives_a_clear_error(failing_prometheus: str) -> None:
    with pytest.raises(PrometheusError, match=r"refused the query \(bad_data\): parse error"):
        prometheus_findings(failing_prometheus, WORKLOADS)


def test_unreachable_server_gives_a_clear_error() -> None:
    port = free_port()
    with pytest.raises(PrometheusError, match=rf"127.0.0.1:{port} is unreachable"):
        PrometheusClient(f"http://127.0.0.1:{port}", timeout=1.0).query("up")


INVENTORY = Path(__file__).parents[2] / "fixtures" / "devops" / "inventory"


def _input(url: str | None, *caps: Capability) -> ToolsetInput:
    context = analyze(str(INVENTORY))
    settings = {"prometheus_url": url, "prometheus_timeout": 1.0} if url else {}
    return ToolsetInput(
        root=Path(context.root),
        context=context,
        capabilities=frozenset({Capability.read_target, *caps}),
        settings=settings,
    )


def _collect(inp: ToolsetInput) -> ToolsetResult:
    return collect_prometheus(inp, build_scan(inp.root, inp.context), [])


def test_collector_queries_with_network_capability(prometheus: tuple[str, list[str]]) -> None:
    url, queries = prometheus
    result = _collect(_input(url, Capability.network))
    # Scripted pods api-7d4b9c8f6-x2x9z and db-0 in namespace shop are the target's workloads;
    # worker-x7k2p has no DaemonSet in this target, so its restarts are not reported.
    assert sorted((f.category, f.resource, f.file) for f in result.findings) == [
        ("perf.cpu-throttling", "Deployment/shop/api", "k8s/api.yaml"),
        ("perf.memory-near-limit", "StatefulSet/shop/db", "k8s/db.yaml"),
    ]
    assert result.output["prometheus"]["containers_measured"] >= 1
    assert queries


def test_collector_needs_the_network_capability(prometheus: tuple[str, list[str]]) -> None:
    url, queries = prometheus
    result = _collect(_input(url))
    assert result.findings == [] and queries == []
    assert "lacks the `network` capability" in result.notes[0]


def test_collector_reports_an_unreachable_prometheus() -> None:
    port = free_port()
    result = _collect(_input(f"http://127.0.0.1:{port}", Capability.network))
    assert result.findings == []
    assert "unreachable" in result.notes[0]
    assert "unreachable" in result.output["prometheus"]["error"]


def test_collector_is_silent_without_a_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMETHEUS_URL", raising=False)
    monkeypatch.delenv("LLMGENIE_PROMETHEUS_URL", raising=False)
    get_settings.cache_clear()
    try:
        result = _collect(_input(None, Capability.network))
    finally:
        get_settings.cache_clear()
    assert result.findings == [] and result.notes == []
