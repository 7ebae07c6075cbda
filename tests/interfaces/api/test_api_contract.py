"""The REST API holds to its OpenAPI document: a bounded schemathesis run against a real
`llmgenie api` on loopback (no 5xx, no undocumented status, no schema violation), and the
document's own promises (one error shape, /metrics as Prometheus text) read from it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.api import serve_api
from tests.support.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

SHOP = Path(__file__).resolve().parents[3] / "examples" / "shop"
ERROR = {"$ref": "#/components/schemas/ErrorBody"}

#: what the run checks; `positive_data_acceptance` is left out on purpose: a request the schema
#: allows may still be refused by the service (a target outside LLMGENIE_TARGET_ROOTS is a 422)
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)


@pytest.fixture
def api(
    llmgenie_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    (tmp_path / "targets" / "shop").mkdir(parents=True)
    shutil.copy(SHOP / "Dockerfile", tmp_path / "targets" / "shop" / "Dockerfile")
    monkeypatch.setenv("LLMGENIE_TARGET_ROOTS", str(tmp_path / "targets"))
    monkeypatch.delenv("LLMGENIE_API_TOKEN", raising=False)
    with serve_api() as client:
        yield client


def test_every_error_has_one_shape_and_metrics_are_text(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")) and path != "/ready":
                    shape = response["content"]["application/json"]["schema"]
                    assert shape == ERROR, (method, path, code)
    assert set(document["paths"]["/v1/tasks/{task_id}"]["get"]["responses"]) >= {"200", "202"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    declared = document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(declared) == ["text/plain; version=0.0.4"]

    refused = api.get("/v1/tasks", params={"limit": "0"})
    assert refused.status_code == 422
    assert refused.json() == {"detail": "limit: Input should be greater than or equal to 1"}
    not_json = api.post("/v1/scan", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422 and isinstance(not_json.json()["detail"], str)
    missing = api.get("/v1/tasks/no-such-task")
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)


def test_schemathesis_finds_no_5xx_no_undocumented_status_no_schema_violation(
    api: httpx.Client, tmp_path: Path
) -> None:
    # one real task, so that half the reads of /v1/tasks/{task_id} find a report to check
    # against its schema; half the scans are of the example, so that a ScanResult is checked
    example = tmp_path / "targets" / "shop"
    submitted = api.post("/v1/tasks", json={"task": "audit", "target": str(example)})
    assert submitted.status_code == 202, submitted.text
    task_id = submitted.json()["task_id"]
    wait_until(
        lambda: api.get(f"/v1/tasks/{task_id}"),
        "the task to finish",
        until=lambda r: r.status_code == 200,
        timeout=120,
        every=0.2,
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f"""
[dictionaries]
tasks = {{ values = ["{task_id}"] }}
targets = {{ values = ["{example}", "{example / "Dockerfile"}"] }}

[parameters]
"path.task_id" = {{ dictionary = "tasks", probability = 0.5 }}
"body.path" = {{ dictionary = "targets", probability = 0.5 }}
"""
    )
    command = [
        *(sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run"),
        f"{api.base_url}/openapi.json",
        *("--checks", ",".join(CHECKS)),
        *("--phases", "examples,coverage,fuzzing"),
        *("--max-examples", "30", "--seed", "20260", "--workers", "1"),
        *("--request-timeout", "30", "--no-color"),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    summary = run.stdout[-3000:]
    print(summary)
    assert run.returncode == 0, summary + run.stderr[-2000:]
