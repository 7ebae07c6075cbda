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
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest

from tests.support.waiting import wait_until

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
    # the 503s Prefect answers for a locked database, otherwise silent, go to the server's stderr
    env["PREFECT_SERVER_LOG_RETRYABLE_ERRORS"] = "true"

    def start(home: Path, *python: str) -> str:
        """Start a server on `home`, wait until it answers; return its API URL.

        `python` replaces the interpreter's arguments before `--home` (default: `-m
        llmgenie.flows.server`). Its stderr goes to `<home>.stderr` beside the home.
        """
        stderr = home.with_name(f"{home.name}.stderr").open("wb")
        proc = subprocess.Popen(
            [sys.executable, *(python or ("-m", "llmgenie.flows.server")), "--home", str(home)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        started.append(proc)
        state = home / "prefect" / "server.json"

        def answering() -> str | None:
            if proc.poll() is not None:
                log = home.with_name(f"{home.name}.stderr").read_text()
                raise AssertionError(f"server exited: {log[-2000:]}")
            if state.exists():
                url = json.loads(state.read_text())["url"]
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    return str(url)
            return None

        return wait_until(answering, "the server to answer", timeout=120, every=0.1)

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


_CONCURRENT_SUBFLOWS = """
import asyncio
from prefect import flow, task

@task
async def stage(i: int) -> int:
    return i

@flow
async def child(i: int) -> int:
    return sum([await stage(j) for j in range(4)])

@flow
async def parent() -> None:
    await asyncio.gather(*(child(i) for i in range(8)))

for _ in range(3):
    asyncio.run(parent())
"""


def _count_task_runs(url: str, *, name: str, state: str) -> int:
    body = {"task_runs": {"name": {"like_": name}, "state": {"type": {"any_": [state]}}}}
    return int(httpx.post(f"{url}/task_runs/count", json=body, timeout=10).json())


def test_concurrent_subflows_never_meet_a_locked_database(tmp_path: Path, serve: object) -> None:
    """The task-run recorder writes beside the API's handlers; both queue on one lock.

    Before they did, this workload made the server answer ~2 requests per subflow with a 503
    for "database is locked" (retried by the client, seconds lost under load).
    """
    home = tmp_path / "home"
    url = serve(home)  # type: ignore[operator]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_API_URL=url, PREFECT_CLIENT_MAX_RETRIES="20", PREFECT_LOGGING_LEVEL="ERROR")
    run = subprocess.run(
        [sys.executable, "-c", _CONCURRENT_SUBFLOWS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    # the recorder writes task-run events in batches: the log is complete once it has written
    # every stage's last state (3 x 8 x 4 task runs)
    wait_until(
        lambda: _count_task_runs(url, name="stage", state="COMPLETED"),
        "the recorder to write every stage's Completed state",
        until=lambda n: n == 96,
    )
    log = home.with_name("home.stderr").read_text()
    assert "database is locked" not in log, log[-3000:]
    assert "patch skipped" not in log, log[-3000:]


_UNTESTED_VERSIONS = """
import sys
from llmgenie.flows import prefect_patches, server

prefect_patches.TESTED.update(prefect="<0", alembic="<0")
server.main(sys.argv[1:])
"""


def test_on_untested_versions_the_server_runs_unpatched(tmp_path: Path, serve: object) -> None:
    """The fail-open path end to end: each patch logs one line and changes nothing; a new home
    still migrates and the API still answers (flows/prefect_patches.py)."""
    url = serve(tmp_path / "home", "-c", _UNTESTED_VERSIONS)  # type: ignore[operator]

    assert httpx.post(f"{url}/flows/", json={"name": "unpatched"}, timeout=10).status_code == 201
    log = (tmp_path / "home.stderr").read_text()
    skipped = [line for line in log.splitlines() if "patch skipped" in line]
    assert len(skipped) == 2, log[-3000:]
    assert "migrate without resolving foreign keys" in skipped[0]
    assert "serialize SQLite writes" in skipped[1]


_MIGRATE_AND_DUMP = """
import asyncio, json, sqlite3, sys
from alembic.operations import batch
from llmgenie.flows import prefect_patches

rebuilt = []
if sys.argv[1] == "without-resolving":
    assert prefect_patches.migrate_without_resolving_foreign_keys()
    init = batch.BatchOperationsImpl.__init__

    def counting_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        rebuilt.append(self.reflect_kwargs.get("resolve_fks", True))

    batch.BatchOperationsImpl.__init__ = counting_init

from prefect.server.database import provide_database_interface

asyncio.run(provide_database_interface().create_db())
db = sqlite3.connect(sys.argv[2])
schema = sorted(
    # a table's constraints come back from reflection in no fixed order: compare them as a set
    [kind, name, sorted(line.strip().rstrip(",") for line in (sql or "").splitlines())]
    for kind, name, sql in db.execute("SELECT type, name, sql FROM sqlite_master")
)
rows = {
    name: sorted(map(repr, db.execute(f'SELECT * FROM "{name}"')))
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
}
print(json.dumps({"schema": schema, "rows": rows, "rebuilt": rebuilt}))
"""


def test_migrating_without_resolving_foreign_keys_builds_prefects_own_schema(
    tmp_path: Path,
) -> None:
    """flows/server.py migrates a new database faster; the result must be Prefect's schema."""
    procs = {}
    for way in ("as-prefect-does", "without-resolving"):
        database = tmp_path / f"{way}.db"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env["PREFECT_HOME"] = str(tmp_path / way)
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{database}"
        procs[way] = subprocess.Popen(
            [sys.executable, "-c", _MIGRATE_AND_DUMP, way, str(database)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    dumps = {}
    for way, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        dumps[way] = json.loads(out.splitlines()[-1])

    prefects, ours = dumps["as-prefect-does"], dumps["without-resolving"]
    assert len(ours["rebuilt"]) > 100 and not any(ours["rebuilt"])  # the change was in effect
    assert len([e for e in ours["schema"] if e[0] == "table"]) > 30
    assert ours["schema"] == prefects["schema"]
    assert ours["rows"] == prefects["rows"]
