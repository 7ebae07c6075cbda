"""The embedded Prefect API: a standing local server on SQLite under LLMGENIE_HOME.

Started on demand by `ensure_prefect_api()` as a detached process and reused by later runs, so
only the first run pays Prefect's start-up; it stops itself after `server_idle_minutes` without
requests. Its one change to Prefect's app: a 503 for a locked SQLite database carries
`Retry-After: 0.05`, which Prefect's client honours, instead of the client's default 2-4 s
back-off per retry. A new home's database starts as a copy of a migrated template kept per
Prefect version in the user's cache, not from Prefect's ~200 migrations. See
docs/decisions/0002-embedded-prefect-api.md. Its patches of Prefect's and Alembic's internals
are in flows/prefect_patches.py, each guarded by version.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import shutil
import socket
import sqlite3
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

__all__ = ["RetryAfterOn503", "main", "prefect_env", "server_state_path", "template_path"]

_RETRY_AFTER_SECONDS = 0.05

#: The CA bundle Prefect's clients load for the embedded API: one certificate whose private key
#: was never kept, so it trusts nothing. The embedded API is plain http on loopback and no TLS
#: handshake ever uses it; Prefect would otherwise parse certifi's ~140 certificates (~19 ms of
#: CPU) for every client it builds, four per run. See docs/decisions/0002-embedded-prefect-api.md.
TRUSTS_NOTHING_CA = Path(__file__).with_name("trusts_nothing.pem")


#: Task runs reach a Prefect API as events, three per task run, and by default its task-run
#: recorder writes each event in a transaction of its own: 54 in an LLM run, each competing with
#: the child flow runs being created. Batched, they are written together, at most a second after
#: they happen. The embedded server has this by default; infra/README.md recommends it for a
#: production Prefect server. See docs/decisions/0002-embedded-prefect-api.md.
TASK_RUN_RECORDER_BATCHING = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "200",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_FLUSH_INTERVAL": "1",
}


def server_state_path(home: Path) -> Path:
    return home / "prefect" / "server.json"


def prefect_env(home: Path) -> dict[str, str]:
    """Settings the embedded server and its clients share; applied before Prefect is imported.

    The environment wins over these (they are defaults), except the API's own database.
    """
    prefect_home = home / "prefect"
    return {
        "PREFECT_HOME": str(prefect_home),
        "PREFECT_LOCAL_STORAGE_PATH": str(prefect_home / "storage"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_LOGGING_LEVEL": "WARNING",
        "PREFECT_CLIENT_MAX_RETRIES": "12",
        "PREFECT_SERVER_LOG_RETRYABLE_ERRORS": "false",
        "PREFECT_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        # the API is http://127.0.0.1: no certificate is ever checked (TRUSTS_NOTHING_CA above)
        "PREFECT_API_SSL_CERT_FILE": str(TRUSTS_NOTHING_CA),
        # Block types are registered on a server's first start (seconds on SQLite); llmgenie uses
        # none. `prefect block register -m prefect` adds them when a user wants them.
        "PREFECT_API_BLOCKS_REGISTER_ON_START": "false",
        # Stored events (the UI's event feed) and automations cost a write per state change and
        # take a third of the time of eight concurrent steps here; local runs need neither.
        # Set either to true to have them (docs/decisions/0002-embedded-prefect-api.md).
        "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED": "false",
        "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
        **TASK_RUN_RECORDER_BATCHING,
    }


def _database_path(home: Path) -> Path:
    return home / "prefect" / "prefect.db"


def _database_url(home: Path) -> str:
    return f"sqlite+aiosqlite:///{_database_path(home)}"


def template_path() -> Path:
    """Where a migrated, empty database for this Prefect version is kept for new homes."""
    from importlib.metadata import version

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "llmgenie" / f"prefect-{version('prefect')}.db"


def _seed_database(home: Path) -> None:
    """Give a new home a migrated database: a copy of the template, else migrate and keep one.

    Prefect migrates a new SQLite database on its first start (~200 migrations, 3.5-4 s here);
    copying an empty migrated one takes milliseconds. The template is per Prefect version and
    holds the schema only; Prefect still checks the revision as it starts. A damaged template
    is replaced; one that cannot be copied (space, permissions) is left alone.
    """
    database = _database_path(home)
    if database.exists():
        return
    template = template_path()
    if template.exists():
        try:
            shutil.copyfile(template, database)
            with closing(sqlite3.connect(database)) as db:
                sound: bool | None = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        except sqlite3.Error:
            sound = False
        except OSError:
            sound = None
        if sound:
            return
        database.unlink(missing_ok=True)
        if sound is False:
            template.unlink(missing_ok=True)
    from prefect.server.database import provide_database_interface

    from llmgenie.flows.prefect_patches import migrate_without_resolving_foreign_keys

    migrate_without_resolving_foreign_keys()
    asyncio.run(provide_database_interface().create_db())
    if not template.exists():
        _save_template(database, template)


def _save_template(database: Path, template: Path) -> None:
    partial = template.with_suffix(f".{os.getpid()}.tmp")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(database)) as source, closing(sqlite3.connect(partial)) as to:
            source.backup(to)  # consistent, whatever is still in the WAL
            to.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        partial.replace(template)
    except (OSError, sqlite3.Error):
        partial.unlink(missing_ok=True)  # no template: the next new home migrates too


class RetryAfterOn503:
    """ASGI middleware: add a short Retry-After to 503s and remember when the API was last used."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.last_request = time.monotonic()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.last_request = time.monotonic()

        async def send_with_retry_after(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and message["status"] == 503:
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"retry-after"
                ]
                delay = _RETRY_AFTER_SECONDS * (1 + random.random())
                headers.append((b"retry-after", f"{delay:.3f}".encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_retry_after)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="llmgenie's embedded Prefect API server")
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--idle-minutes", type=float, default=30.0)
    args = parser.parse_args(argv)

    for key, value in prefect_env(args.home).items():
        os.environ.setdefault(key, value)
    os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = _database_url(args.home)
    # The UI this server serves asks it where the API is: here, on the page's own origin, so
    # it works on any port and host name, not at Prefect's default :4200 (decision 0025).
    os.environ.pop("PREFECT_UI_API_URL", None)
    os.environ["PREFECT_SERVER_UI_API_URL"] = "/api"
    os.environ.pop("PREFECT_API_URL", None)
    (args.home / "prefect").mkdir(parents=True, exist_ok=True)

    _seed_database(args.home)

    import uvicorn
    from prefect.server.api.server import create_app

    if os.environ.get("LLMGENIE_SQLITE_LOCK", "1") == "1":
        from llmgenie.flows.prefect_patches import serialize_sqlite_writes

        serialize_sqlite_writes()
    port = args.port or _free_port()
    app = RetryAfterOn503(create_app(final=True))
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    state_path = server_state_path(args.home)

    async def serve() -> None:
        async def announce_and_watch() -> None:
            while not server.started:
                await asyncio.sleep(0.05)
            # Prefect's app is ~390,000 long-lived objects; every full collection walked them all
            # (~0.2 s, every ~12 s under load, stalling every request in flight). Frozen, a full
            # collection walks only what requests allocate: 15-35 ms (docs/decisions/0015).
            gc.freeze()
            state = {"url": f"http://127.0.0.1:{port}/api", "pid": os.getpid(), "port": port}
            tmp = state_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(state))
            tmp.replace(state_path)
            while not server.should_exit:
                await asyncio.sleep(5)
                if time.monotonic() - app.last_request > args.idle_minutes * 60:
                    server.should_exit = True

        watcher = asyncio.create_task(announce_and_watch())
        try:
            await server.serve()
        finally:
            watcher.cancel()
            try:
                state = json.loads(state_path.read_text())
                if state.get("pid") == os.getpid():
                    state_path.unlink()
            except (OSError, ValueError):
                pass

    # the event loop `prefect server start` gets from uvicorn: uvloop where it is installed
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())
    sys.exit(0)


if __name__ == "__main__":
    main()
