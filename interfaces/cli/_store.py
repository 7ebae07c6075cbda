"""The home and the store for a CLI command: configuration problems become one-line user errors."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from llmgenie.interfaces.cli.errors import UserError

if TYPE_CHECKING:
    from llmgenie.core.storage import Store

__all__ = ["cli_store", "no_such_task", "usable_home"]


def usable_home() -> Path:
    """LLMGENIE_HOME, created when missing; one that cannot be created or written is a user
    error, said before anything starts (the embedded API, the store and the reports live there)."""
    from llmgenie.core.settings import get_settings

    home = get_settings().home
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(
            f"LLMGENIE_HOME {home} cannot be created: {reason} (set it to a writable folder)"
        ) from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise UserError(f"LLMGENIE_HOME {home} is not writable (set it to a writable folder)")
    return home


def cli_store(*, migrate: bool = True) -> Store:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from llmgenie.core.settings import get_settings
    from llmgenie.core.storage import SchemaTooNewError, open_store
    from llmgenie.core.storage.db import db_error_line, safe_url
    from llmgenie.flows import crashed

    usable_home()
    crashed.watch()
    settings = get_settings()
    try:
        return open_store(settings, migrate=migrate)
    except SchemaTooNewError as exc:
        raise UserError(str(exc)) from None
    except (ArgumentError, ValueError) as exc:
        raise UserError(f"LLMGENIE_DATABASE_URL / LLMGENIE_ARTIFACTS_URL: {exc}") from None
    except DBAPIError as exc:
        raise UserError(
            f"cannot open database {safe_url(settings.resolved_database_url)}: {db_error_line(exc)}"
        ) from None


def no_such_task(store: Store, task_id: str) -> UserError:
    """The one-line error for a task id the store does not hold: pruned (the audit log says
    when), or never known."""
    pruned = store.pruned_at(task_id)
    if pruned is not None:
        return UserError(
            f"task {task_id!r} was pruned on {pruned:%Y-%m-%d %H:%M} UTC; its audit events "
            "remain (`llmgenie audit export`)"
        )
    return UserError(f"no task with id {task_id!r} (see `llmgenie runs list`)")
