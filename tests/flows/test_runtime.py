"""Which Prefect API a process talks to, whatever it imported first."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from llmgenie.core.settings import Settings
from llmgenie.flows.runtime import stop_embedded_server
from llmgenie.flows.server import TRUSTS_NOTHING_CA, prefect_env

_PREFECT_FIRST = """
import prefect.context  # imported before llmgenie chooses the API, as a library user might
from prefect.settings import get_current_settings

from llmgenie.flows.runtime import ensure_prefect_api

url = ensure_prefect_api()
print(url)
print(get_current_settings().api.url)
print(get_current_settings().api.ssl_cert_file)
"""


@pytest.mark.slow
def test_a_process_that_imported_prefect_first_still_uses_the_embedded_api() -> None:
    """Before, Prefect kept the settings of its import: no API URL, so every flow of the
    process ran on a temporary server of Prefect's own (none of the embedded API's tuning)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    run = subprocess.run(
        [sys.executable, "-c", _PREFECT_FIRST], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    chosen, seen_by_prefect, ca_bundle = run.stdout.split()[-3:]
    assert chosen.startswith("http://127.0.0.1:")
    assert seen_by_prefect == chosen
    assert ca_bundle == str(TRUSTS_NOTHING_CA)


def test_clients_of_the_plain_http_embedded_api_load_a_one_certificate_bundle() -> None:
    """Prefect builds a TLS context for every client, even for http://; with certifi's bundle
    that is ~19 ms of parsing each time, four times a run. The bundle llmgenie gives it holds
    one CA whose key was never kept: it loads in well under a millisecond and trusts nothing."""
    context = ssl.create_default_context(cafile=str(TRUSTS_NOTHING_CA))
    assert context.cert_store_stats()["x509_ca"] == 1
    (cert,) = context.get_ca_certs()
    assert "trusts nothing" in str(cert["subject"])
    assert prefect_env(Path("/home"))["PREFECT_API_SSL_CERT_FILE"] == str(TRUSTS_NOTHING_CA)


_START = """
import sys
from pathlib import Path

from llmgenie.core.settings import Settings
from llmgenie.flows.runtime import start_prefect_api

api = start_prefect_api(Settings(home=Path(sys.argv[1])))
print(api.wait())
"""


@pytest.mark.slow
def test_processes_starting_at_once_share_one_embedded_server(tmp_path: Path) -> None:
    """One starts the server; the others find it starting, wait for it, and use it."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    home = tmp_path / "home"
    starters = [
        subprocess.Popen(
            [sys.executable, "-c", _START, str(home)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        outputs = [p.communicate(timeout=120) for p in starters]
        assert [p.returncode for p in starters] == [0, 0, 0], [err[-2000:] for _, err in outputs]
        urls = {out.split()[-1] for out, _ in outputs}
        assert len(urls) == 1
        assert httpx.get(f"{urls.pop()}/health", timeout=5).status_code == 200
    finally:
        stop_embedded_server(Settings(home=home))


@pytest.mark.slow
def test_a_run_that_starts_the_embedded_api_runs_its_flows_on_it(tmp_path: Path) -> None:
    """`llmgenie run` imports Prefect while a new embedded API starts, then uses that API:
    BOSS's flow run is on it, not on a temporary server of Prefect's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    home = tmp_path / "home"
    env["LLMGENIE_HOME"] = str(home)
    example = Path(__file__).resolve().parents[2] / "examples" / "shop"
    command = ["run", "audit", "--target", str(example), "--agents", "security", "--format", "json"]
    try:
        run = subprocess.run(
            [sys.executable, "-m", "llmgenie", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert run.returncode in (0, 1), run.stderr[-2000:]
        flow_run_id = json.loads(run.stdout)["flow_run_id"]
        url = json.loads((home / "prefect" / "server.json").read_text())["url"]
        seen = httpx.get(f"{url}/flow_runs/{flow_run_id}", timeout=10)
        assert seen.status_code == 200
        assert seen.json()["state"]["type"] == "COMPLETED"
    finally:
        stop_embedded_server(Settings(home=home))
