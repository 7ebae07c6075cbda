"""Opening the store for a CLI command: configuration problems become one-line user errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llmgenie.cli.errors import UserError

if TYPE_CHECKING:
    from llmgenie.core.storage import Store

__all__ = ["cli_store"]


def cli_store(*, migrate: bool = True) -> Store:
    from sqlalchemy.exc import ArgumentError, DBAPIError

    from llmgenie.core.settings import get_settings
    from llmgenie.core.storage import SchemaTooNewError, open_store
    from llmgenie.core.storage.db import db_error_line, safe_url

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
