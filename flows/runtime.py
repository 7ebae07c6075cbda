"""Which Prefect API a run talks to: the user's `PREFECT_API_URL`, or the embedded one.

Prefect reads its settings from the environment when it is first imported; a process that
imported it earlier gets them refreshed, or it would quietly run on a temporary server of
Prefect's own instead. The embedded API is started once, as a detached process, and reused.
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import httpx

from llmgenie.core.settings import Settings, get_settings
from llmgenie.flows.server import prefect_env, server_state_path

__all__ = [
    "ApiStart",
    "PrefectUnavailable",
    "ensure_prefect_api",
    "running_api",
    "start_prefect_api",
    "stop_embedded_server",
]

_START_TIMEOUT_SECONDS = 90.0


class PrefectUnavailable(RuntimeError):
    """No Prefect API could be reached or started."""


def ensure_prefect_api(settings: Settings | None = None) -> str:
    """Return the API URL to use, starting the embedded server when none is configured."""
    return start_prefect_api(settings).wait()


def running_api(settings: Settings | None = None) -> str | None:
    """The API URL if one answers now (the configured one, or the embedded one), else None.

    For callers that only read or mend runs: it never starts a server."""
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        return configured if _healthy(configured.rstrip("/")) else None
    return _running_server((settings or get_settings()).home)


def start_prefect_api(settings: Settings | None = None) -> ApiStart:
    """Begin choosing the API; `wait()` on the result gives its URL.

    A new embedded server takes seconds to start (Prefect's imports, a database copy); a caller
    can import Prefect and its flows in the meantime, on the other core, and then wait. Prefect's
    defaults for this home are in the environment when this returns; the API URL is set, and
    an already imported Prefect refreshed, by `wait()`.
    """
    settings = settings or get_settings()
    configured = os.environ.get("PREFECT_API_URL")
    if configured:
        os.environ.setdefault("PREFECT_HOME", str(settings.home / "prefect"))
        return ApiStart(settings, configured=configured)
    for key, value in prefect_env(settings.home).items():
        os.environ.setdefault(key, value)
    start = ApiStart(settings)
    start.begin()
    return start


class ApiStart:
    """An API being chosen: the user's, an embedded server already up, or one starting."""

    def __init__(self, settings: Settings, configured: str | None = None) -> None:
        self.settings = settings
        self.configured = configured
        self.url: str | None = None
        self._lock: IO[str] | None = None  # held from spawning the server until it answers
        self._proc: subprocess.Popen[bytes] | None = None

    def begin(self) -> None:
        home = self.settings.home
        (home / "prefect").mkdir(parents=True, exist_ok=True)
        self.url = _running_server(home)
        if self.url:
            return
        lock = (home / "prefect" / "server.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process is starting it: wait() waits for that one
            lock.close()
            return
        self._lock = lock
        self.url = _running_server(home)
        if self.url:
            self._release()
            return
        self._proc = _spawn_server(self.settings)

    def wait(self) -> str:
        try:
            url = self._wait()
        finally:
            self._release()
        os.environ["PREFECT_API_URL"] = url
        _refresh_prefect_settings()
        return url

    def _wait(self) -> str:
        if self.configured:
            if not _healthy(self.configured.rstrip("/")):
                raise PrefectUnavailable(
                    f"the Prefect API at {self.configured} (PREFECT_API_URL) does not answer; "
                    "start it, or unset PREFECT_API_URL to use the embedded one"
                )
            return self.configured
        if self.url:
            return self.url
        home = self.settings.home
        if self._proc is None:  # another process started it: once its lock is free, use it
            with (home / "prefect" / "server.lock").open("w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
            url = _running_server(home)
            if url:
                return url
            self.begin()  # that start failed; try once ourselves
            if self.url:
                return self.url
            if self._proc is None:
                raise PrefectUnavailable(f"the embedded Prefect API of {home} could not start")
        return _await_server(self._proc, home)

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file drops the flock
            self._lock = None


def _refresh_prefect_settings() -> None:
    """Make an already imported Prefect see the environment set above."""
    if "prefect.context" in sys.modules:
        # imported, or being imported by another thread (a metrics reader): the import system
        # waits for that import to finish instead of handing over a half-made module
        importlib.import_module("prefect.context").refresh_global_settings_context()


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


def _running_server(home: Path) -> str | None:
    state = _read_state(home)
    if state and _healthy(str(state["url"])):
        return str(state["url"])
    return None


def _spawn_server(settings: Settings) -> subprocess.Popen[bytes]:
    home = settings.home
    server_state_path(home).unlink(missing_ok=True)
    with (home / "prefect" / "server.log").open("ab") as log:
        return subprocess.Popen(
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


def _await_server(proc: subprocess.Popen[bytes], home: Path) -> str:
    deadline = time.monotonic() + _START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise PrefectUnavailable(
                f"the embedded Prefect API exited with code {proc.returncode}; "
                f"see {home / 'prefect' / 'server.log'}"
            )
        url = _running_server(home)
        if url:
            return url
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
