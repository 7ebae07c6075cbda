"""The dashboard and the alert rules against a real Prometheus scraping a real `llmgenie api`.

Debian's `prometheus` (installed by .ci/run) scrapes the API every second while it runs real
tasks; every query of every dashboard panel then returns data through Prometheus's HTTP API,
every alert rule evaluates without error, and `promtool check rules` passes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from llmgenie.core.models import AGENT_NAMES
from llmgenie.core.telemetry import STAGES
from tests.support.net import free_port
from tests.support.openai_server import Reply, ScriptedModelServer

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_api")]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "shop"
OBSERVABILITY = ROOT / "infra" / "observability"
DASHBOARD = OBSERVABILITY / "dashboards" / "llmgenie.json"
RULES = OBSERVABILITY / "prometheus" / "llmgenie-rules.yaml"
#: What Grafana puts in place of the dashboard's variables.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$job": ".+"}
#: Rounds of tasks, one scrape apart: a rate needs a counter to change between two scrapes.
ROUNDS = 2

needs_prometheus = pytest.mark.skipif(
    not (shutil.which("prometheus") and shutil.which("promtool")),
    reason="Debian's prometheus package is not installed (.ci/run installs it)",
)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
    """Poll `check` until it returns something true; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _serving(proc: subprocess.Popen[bytes], url: str, log: Path) -> bool:
    """True once `url` answers 200; fails at once, with the log's end, if `proc` exited."""
    assert proc.poll() is None, f"{proc.args[0]} exited: {log.read_text()[-3000:]}"
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture
def api(llmgenie_home: Path, tmp_path: Path) -> Iterator[str]:
    """A real `llmgenie api` whose model refuses its key: every step falls back to tool-only."""
    port = free_port()
    with ScriptedModelServer(lambda _: Reply.error(401)) as model:
        env = {
            **os.environ,
            "LLMGENIE_HOME": str(llmgenie_home),
            "LLMGENIE_LLM": "openai/refuses",
            "LLMGENIE_TARGET_ROOTS": str(EXAMPLE),
            "OPENAI_BASE_URL": model.base_url,
            "OPENAI_API_KEY": "sk-test-0123456789abcdefghij",
        }
        log_path = tmp_path / "api.log"
        with log_path.open("w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "llmgenie", "api", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_for("the API", lambda: _serving(proc, f"{url}/health", log_path))
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def prometheus(api: str, tmp_path: Path) -> Iterator[str]:
    """A real Prometheus on loopback scraping `api` every second, with llmgenie's rules."""
    port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "llmgenie", "static_configs": [{"targets": [api.split("//")[1]]}]}
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    log_path = tmp_path / "prometheus.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                "prometheus",
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for("Prometheus", lambda: _serving(proc, f"{url}/-/ready", log_path))
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    """The instant vector `expr` evaluates to now; fails on a query Prometheus rejects."""
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", f"{expr}: {answer.get('error')}"
    return answer["data"]["result"]


def _total(prometheus: str, expr: str) -> float:
    result = query(prometheus, expr)
    return float(result[0]["value"][1]) if result else 0.0


def _finished(report_url: str) -> dict[str, Any] | None:
    answer = httpx.get(report_url, timeout=10)
    assert answer.status_code in (200, 202), answer.text
    report = answer.json()
    return report if report["status"] != "running" else None


def run_tasks(api: str, prometheus: str) -> None:
    """ROUNDS rounds of a real task each, every round scraped before the next starts."""
    for round_ in range(1, ROUNDS + 1):
        accepted = httpx.post(
            f"{api}/v1/tasks",
            json={"task": "audit the manifests", "target": str(EXAMPLE), "caller": "test"},
            timeout=30,
        )
        assert accepted.status_code == 202, accepted.text
        report_url = api + accepted.json()["report_url"]
        report = wait_for(f"task {round_}", lambda url=report_url: _finished(url))
        assert report["status"] == "completed", report
        assert {s["mode"] for s in report["steps"]} == {"tool-only"}
        wait_for(
            f"the scrape after task {round_}",
            lambda n=round_: _total(prometheus, "sum(llmgenie_tasks_total)") >= n,
        )
    # the queue depth is read in the background: one scrape later, it is there
    wait_for("the queue depth", lambda: query(prometheus, "llmgenie_work_pool_queue_depth"))


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, query) of every target of every panel, Grafana's variables filled in."""
    dashboard = json.loads(DASHBOARD.read_text())
    queries = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, f"{panel['title']}: a variable the test does not know"
            queries.append((panel["title"], expr))
    return queries


def alert_rules() -> list[dict[str, Any]]:
    return [
        rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    ]


@needs_prometheus
def test_every_panel_and_alert_evaluates_on_a_real_prometheus(api: str, prometheus: str) -> None:
    run_tasks(api, prometheus)

    answers = {(title, expr): query(prometheus, expr) for title, expr in panel_queries()}
    empty = [key for key, result in answers.items() if not result]
    assert not empty, f"panels whose query returns no data: {empty}"
    # every query has a number, not only NaN (a quantile of rates that did not change)
    nan = [k for k, result in answers.items() if all(r["value"][1] == "NaN" for r in result)]
    assert not nan, f"panels whose query returns only NaN: {nan}"

    def labels(expr: str, name: str) -> set[str]:
        return {r["metric"][name] for r in query(prometheus, expr)}

    assert labels("llmgenie_fallbacks_total > 0", "reason") == {"auth"}
    assert labels("llmgenie_steps_running", "agent") == set(AGENT_NAMES)
    assert labels("llmgenie_stage_duration_seconds_count > 0", "stage") == set(STAGES)
    routes = labels("llmgenie_api_request_duration_seconds_count", "route")
    assert {"/health", "/metrics", "/v1/tasks", "/v1/tasks/{task_id}"} <= routes

    for rule in alert_rules():
        query(prometheus, rule["expr"])  # valid PromQL over the real series

    def evaluated() -> list[dict[str, Any]] | None:
        groups = httpx.get(f"{prometheus}/api/v1/rules", timeout=10).json()["data"]["groups"]
        rules = [r for g in groups for r in g["rules"]]
        done = all(r["lastEvaluation"] > "0001-01-01T00:00:00Z" for r in rules)
        return rules if rules and done else None

    rules = wait_for("the alert rules' evaluation", evaluated)
    assert {r["name"] for r in rules} == {r["alert"] for r in alert_rules()}
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]


@needs_prometheus
def test_promtool_checks_the_rules() -> None:
    check = subprocess.run(
        ["promtool", "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert re.search(rf"SUCCESS: {len(alert_rules())} rules found", check.stdout + check.stderr)
