"""SIGTERM stops `llmgenie api` within seconds even mid-scan (issue 19, point 8).

A scan runs in a worker thread, which nothing can kill from outside; before, the process held on
until the scan ended. A real `llmgenie api` process scans a generated tree of thousands of
manifests; once the scan reports progress, the process is sent SIGTERM.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.support.net import free_port
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{n}, namespace: team}}
spec:
  selector: {{matchLabels: {{app: app-{n}}}}}
  template:
    metadata: {{labels: {{app: app-{n}}}}}
    spec:
      containers:
        - name: app
          image: registry.example.com/app:{n}
"""

#: seconds the API may take to exit after SIGTERM mid-scan; the scan alone takes far longer
STOP_SECONDS = 10.0


def _big_tree(root: Path, files: int = 6000, per_file: int = 4) -> Path:
    root.mkdir()
    for i in range(files):
        docs = [DEPLOYMENT.format(n=i * per_file + j) for j in range(per_file)]
        (root / f"app-{i:05d}.yaml").write_text("---\n".join(docs))
    return root


def test_sigterm_stops_the_api_within_seconds_mid_scan(tmp_path: Path) -> None:
    tree = _big_tree(tmp_path / "tree")
    port = free_port()
    env = {  # its own embedded Prefect API, as `llmgenie api` gets on a machine
        **{k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")},
        "LLMGENIE_HOME": str(tmp_path / "home"),
        "LLMGENIE_TARGET_ROOTS": str(tree),
        "LLMGENIE_LOG_LEVEL": "INFO",
        "LLMGENIE_LOG_FORMAT": "json",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "llmgenie", "api", "--port", str(port)],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stderr.readline, "")))  # type: ignore[union-attr]
    reader.start()
    answers: list[httpx.Response | Exception] = []
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base}/health"), "the API to start")

        def post() -> None:
            try:
                answers.append(httpx.post(f"{base}/v1/scan", json={"path": str(tree)}, timeout=600))
            except Exception as exc:  # the connection may close as the server stops
                answers.append(exc)

        threading.Thread(target=post, daemon=True).start()
        wait_until(
            lambda: any('"phase": "scan"' in line for line in lines),
            "the scan to report progress through its files",
        )
        stopped_at = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=STOP_SECONDS * 6)  # a hang fails below with the time it took
        took = time.monotonic() - stopped_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=10)
    assert took < STOP_SECONDS, f"the API took {took:.1f} s to stop mid-scan"
    assert not any("Traceback" in line for line in lines), "".join(lines)[-2000:]
    done = [a for a in answers if isinstance(a, httpx.Response)]
    assert all(r.status_code == 503 for r in done), [r.text for r in done]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
