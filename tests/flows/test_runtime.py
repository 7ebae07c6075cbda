"""Which Prefect API a process talks to, whatever it imported first."""

from __future__ import annotations

import os
import subprocess
import sys

_PREFECT_FIRST = """
import prefect.context  # imported before llmgenie chooses the API, as a library user might
from prefect.settings import get_current_settings

from llmgenie.flows.runtime import ensure_prefect_api

url = ensure_prefect_api()
print(url)
print(get_current_settings().api.url)
"""


def test_a_process_that_imported_prefect_first_still_uses_the_embedded_api() -> None:
    """Before, Prefect kept the settings of its import: no API URL, so every flow of the
    process ran on a temporary server of Prefect's own (none of the embedded API's tuning)."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    run = subprocess.run(
        [sys.executable, "-c", _PREFECT_FIRST], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    chosen, seen_by_prefect = run.stdout.split()[-2:]
    assert chosen.startswith("http://127.0.0.1:")
    assert seen_by_prefect == chosen
