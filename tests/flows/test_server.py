"""The embedded Prefect API server: a new home starts from the migrated template database.

Real server processes (`python -m llmgenie.flows.server`), each with its own home; the
template cache is the test's own (`XDG_CACHE_HOME`).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

_MARKER = "llmgenie_test_seeded_from_template"


def _tables(database: Path) -> set[str]:
    with closing(sqlite3.connect(database)) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")

    def start(home: Path) -> str:
        """Start a server on `home`, wait until it answers; return its API URL."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "llmgenie.flows.server", "--home", str(home)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        started.append(proc)
        state = home / "prefect" / "server.json"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            if state.exists():
                url = json.loads(state.read_text())["url"]
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return str(url)
            time.sleep(0.1)
        raise AssertionError("server did not start within 120 s")

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(30)


def test_a_new_home_starts_from_the_template_and_a_damaged_one_is_rebuilt(
    tmp_path: Path, serve: object
) -> None:
    from llmgenie.flows.server import template_path

    os.environ["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # for template_path() here
    try:
        template = template_path()
    finally:
        del os.environ["XDG_CACHE_HOME"]

    # a machine that never ran llmgenie: Prefect migrates, and the result becomes the template
    serve(tmp_path / "first")  # type: ignore[operator]
    assert template.is_file()
    with closing(sqlite3.connect(template)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # a single file
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)
        db.execute(f"CREATE TABLE {_MARKER} (x INTEGER)")  # to see where the next copy came from

    # a new home: a copy of the template, which Prefect accepts as migrated
    url = serve(tmp_path / "second")  # type: ignore[operator]
    assert _MARKER in _tables(tmp_path / "second" / "prefect" / "prefect.db")
    assert httpx.post(f"{url}/flows/", json={"name": "seeded"}, timeout=10).status_code == 201

    # a damaged template is not copied: the new home migrates and a sound template replaces it
    template.write_bytes(b"not a database" * 100)
    serve(tmp_path / "third")  # type: ignore[operator]
    assert _MARKER not in _tables(tmp_path / "third" / "prefect" / "prefect.db")
    with closing(sqlite3.connect(template)) as db:
        assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
