"""Which Prefect API a run talks to: the user's `PREFECT_API_URL`, or the embedded one.

Prefect reads its settings from the environment when it is first imported; a process that
imported it earlier gets them refreshed, or it would quietly run on a temporary server of
Prefect's own instead. The embedded API is started once, as a detached process, and reused.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from llmgenie.core.settings import Settings, get_settings
from llmgenie.flows.server import prefect_env, server_state_path

__all__ = ["PrefectUnavailable", "ensure_prefect_api", "stop_embedded_server"]

_START_TIMEOUT_SECONDS = 90.0


class PrefectUnavailable(RuntimeError):
    """No Prefect API could be reached or started."""


def ensure_prefect_api(settings: Settings | None = None) -> str:
    """Return the API URL to use, starting the embedded server when none is configured."""
    settings = settings or get_settings()
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        os.environ.setdefault("PREFECT_HOME", str(settings.home / "prefect"))
        if not _healthy(configured.rstrip("/")):
            raise PrefectUnavailable(
                f"the Prefect API at {configured} (PREFECT_API_URL) does not answer; "
                "start it, or unset PREFECT_API_URL to use the embedded one"
            )
        _refresh_prefect_settings()
        return configured
    for key, value in prefect_env(settings.home).items():
        os.environ.setdefault(key, value)
    url = _embedded_server_url(settings)
    os.environ["PREFECT_API_URL"] = url
    _refresh_prefect_settings()
    return url


def _refresh_prefect_settings() -> None:
    """Make an already imported Prefect see the environment set above."""
    context = sys.modules.get("prefect.context")
    if context is not None:
        context.refresh_global_settings_context()


def _healthy(url: str) -> bool:
    # plain http needs no certificates: loading the CA bundle costs ~40 ms of every start
    verify = not url.startswith("http://")
    try:
        return httpx.get(f"{url}/health", timeout=1.0, verify=verify).status_code == 200
    except httpx.HTTPError:
        return False


def _read_state(home: Path) -> dict[str, object] | None:
    try:
        return json.loads(server_state_path(home).read_text())
    except (OSError, ValueError):
        return None


def _embedded_server_url(settings: Settings) -> str:
    home = settings.home
    (home / "prefect").mkdir(parents=True, exist_ok=True)
    state = _read_state(home)
    if state and _healthy(str(state["url"])):
        return str(state["url"])
    with (home / "prefect" / "server.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one starter at a time; the others reuse its server
        state = _read_state(home)
        if state and _healthy(str(state["url"])):
            return str(state["url"])
        server_state_path(home).unlink(missing_ok=True)
        log = (home / "prefect" / "server.log").open("ab")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llmgenie.flows.server",
                "--home",
                str(home),
                "--idle-minutes",
                str(settings.server_idle_minutes),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"},
        )
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise PrefectUnavailable(
                    f"the embedded Prefect API exited with code {proc.returncode}; "
                    f"see {home / 'prefect' / 'server.log'}"
                )
            state = _read_state(home)
            if state and _healthy(str(state["url"])):
                return str(state["url"])
            time.sleep(0.1)
        proc.kill()
        raise PrefectUnavailable(
            f"the embedded Prefect API did not start within {_START_TIMEOUT_SECONDS:.0f} s; "
            f"see {home / 'prefect' / 'server.log'}"
        )


def stop_embedded_server(settings: Settings | None = None) -> bool:
    """Stop the embedded API if it runs; True when one was stopped."""
    settings = settings or get_settings()
    state = _read_state(settings.home)
    if not state:
        return False
    try:
        os.kill(int(str(state["pid"])), 15)
    except (ProcessLookupError, ValueError):
        server_state_path(settings.home).unlink(missing_ok=True)
        return False
    return True
