"""Tracing over OTLP/HTTP to a loopback receiver: the span tree of a real run, and no tracing
(nothing imported, nothing sent) when no endpoint is set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.support.openai_server import Reply, ScriptedModelServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"
TASK_TEXT = "audit the shop's manifests"


class Receiver:
    """An OTLP/HTTP traces endpoint on loopback that keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.got_task = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver.add(request)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request: ExportTraceServiceRequest) -> None:
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                for s in scope.spans:
                    attributes = {a.key: _value(a.value) for a in s.attributes}
                    self.spans.append(
                        {
                            "name": s.name,
                            "id": s.span_id.hex(),
                            "parent": s.parent_span_id.hex(),
                            "trace": s.trace_id.hex(),
                            "attributes": attributes,
                            "error": s.status.code == s.status.STATUS_CODE_ERROR,
                        }
                    )
                    if s.name == "task":
                        self.got_task.set()


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value"))


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
    yield receiver
    receiver.server.shutdown()


def _env(llmgenie_home: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "LLMGENIE_HOME": str(llmgenie_home), **extra}
    env.pop("OTEL_SDK_DISABLED", None)  # the suite's switch; tracing is asked for by endpoint
    return env


def test_a_run_sends_the_tree_of_its_task_steps_stages_tools_and_model_calls(
    receiver: Receiver, llmgenie_home: Path
) -> None:
    with ScriptedModelServer(lambda _: Reply.error(401)) as model:
        env = _env(
            llmgenie_home,
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            LLMGENIE_LLM="openai/refuses",
            OPENAI_BASE_URL=model.base_url,
            OPENAI_API_KEY="sk-test-0123456789abcdefghij",
        )
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "llmgenie",
                "run",
                TASK_TEXT,
                "--target",
                str(EXAMPLE),
                "--agents",
                "security",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
    assert run.returncode in (0, 1), run.stderr[-3000:]
    report = json.loads(run.stdout)
    assert receiver.got_task.wait(30), "no task span arrived"  # sent as the process exits

    spans = receiver.spans
    by_id = {s["id"]: s for s in spans}

    def children(parent: dict[str, Any]) -> list[str]:
        return sorted(s["name"] for s in spans if s["parent"] == parent["id"])

    (task,) = [s for s in spans if s["name"] == "task"]
    assert task["parent"] == "" and task["attributes"]["llmgenie.task_id"] == report["task_id"]
    assert {s["trace"] for s in spans} == {task["trace"]}
    assert children(task) == ["step security"]
    (step,) = [s for s in spans if s["name"] == "step security"]
    assert step["attributes"]["llmgenie.step_id"] == "security"
    assert children(step) == [
        "stage context_slice",
        "stage environment_setup",
        "stage execute",
        "stage permission_check",
    ]
    (execute,) = [s for s in spans if s["name"] == "stage execute"]
    assert children(execute) == [
        "model openai/refuses",
        "tool security-toolset",
        "tool-only tool-only",
    ]
    (refused,) = [s for s in spans if s["name"] == "model openai/refuses"]
    assert refused["error"] and not by_id[refused["parent"]]["error"]

    for s in spans:
        assert s["attributes"]["llmgenie.task_id"] == report["task_id"], s
        if s is not task:
            assert s["attributes"]["llmgenie.step_id"] == "security", s
        for value in [s["name"], *map(str, s["attributes"].values())]:
            assert str(EXAMPLE) not in value and TASK_TEXT not in value, s


def test_without_an_endpoint_nothing_of_opentelemetry_is_even_loaded(llmgenie_home: Path) -> None:
    env = _env(llmgenie_home)
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        env.pop(name, None)
    probe = (
        "import sys, llmgenie.flows.boss, llmgenie.flows.tracing as t; "
        "print(t.enabled(), 'opentelemetry.sdk.trace' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.stdout.split() == ["False", "False"], out.stderr[-2000:]
