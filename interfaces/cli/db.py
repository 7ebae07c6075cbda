"""`llmgenie db upgrade | status`: the metadata database's schema."""

from __future__ import annotations

import typer

from llmgenie.core.storage.db import db_error_line, safe_url
from llmgenie.interfaces.cli.errors import UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["db_app"]

db_app = typer.Typer(help="The metadata database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _engine():  # type: ignore[no-untyped-def]
    from llmgenie.core.settings import get_settings
    from llmgenie.core.storage.db import make_engine

    url = get_settings().resolved_database_url
    try:
        return make_engine(url), url
    except Exception as exc:
        raise UserError(f"LLMGENIE_DATABASE_URL {safe_url(url)}: {exc}") from None


@db_app.command("upgrade")
def upgrade(
    revision: str = typer.Option("head", help="target revision (default: the newest)"),
) -> None:
    """Migrate the database to the schema this llmgenie knows (also done on every start)."""
    from sqlalchemy.exc import DBAPIError

    from llmgenie.core.storage import migrate

    engine, url = _engine()
    try:
        before = migrate.current_revision(engine)
        migrate.upgrade(engine, revision)
        after = migrate.current_revision(engine)
    except migrate.SchemaTooNewError as exc:
        raise UserError(str(exc)) from None
    except DBAPIError as exc:
        raise UserError(f"cannot migrate {safe_url(url)}: {db_error_line(exc)}") from None
    finally:
        engine.dispose()
    if before == after:
        typer.echo(f"{safe_url(url)}: schema already at {after}")
    else:
        typer.echo(f"{safe_url(url)}: schema {before or 'empty'} -> {after}")


@db_app.command("status")
def status() -> None:
    """Show the database's schema revision and the newest one this llmgenie knows."""
    from sqlalchemy.exc import DBAPIError

    from llmgenie.core.storage import migrate

    engine, url = _engine()
    try:
        current = migrate.current_revision(engine)
    except DBAPIError as exc:
        raise UserError(f"cannot open database {safe_url(url)}: {db_error_line(exc)}") from None
    finally:
        engine.dispose()
    head = migrate.head_revision()
    typer.echo(f"database: {safe_url(url)}")
    typer.echo(f"schema:   {current or 'empty'} (this llmgenie knows up to {head})")
