"""`llmgenie token create`: an HS256 bearer token for the REST API, signed with its secret."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

import typer

from llmgenie.interfaces.cli.errors import UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["parse_ttl", "token_app"]

token_app = typer.Typer(help="Bearer tokens for the REST API.", no_args_is_help=True)
app.add_typer(token_app, name="token")

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
#: longer-lived credentials belong to an identity provider, not to a shared secret
MAX_TTL = timedelta(days=366)


def parse_ttl(text: str) -> timedelta:
    """'8h' → 8 hours; s, m, h and d; UserError for anything else or past `MAX_TTL`."""
    match = re.fullmatch(r"\s*(\d{1,7})\s*([smhd])\s*", text)
    if match is None:
        raise UserError(f"--ttl: {text[:40]!r} is not a duration like 30m, 8h or 7d")
    ttl = timedelta(**{_UNITS[match[2]]: int(match[1])})
    if not timedelta(0) < ttl <= MAX_TTL:
        raise UserError(f"--ttl: {text.strip()} is not between 1s and {MAX_TTL.days}d")
    return ttl


@token_app.command("create")
def create(
    sub: Annotated[str, typer.Option(help="who the token names: the audit log's actor")],
    role: Annotated[str, typer.Option(help="viewer, operator, maintainer or admin")],
    ttl: Annotated[str, typer.Option(help="how long it is valid: 30m, 8h, 7d")] = "8h",
) -> None:
    """Print a token signed with LLMGENIE_API_JWT_SECRET (and the configured iss and aud)."""
    from llmgenie.core.settings import get_settings
    from llmgenie.flows.service import check_role
    from llmgenie.interfaces.api.auth import issue

    if not sub.strip() or len(sub) > 200:
        raise UserError("--sub: name who the token is for, in at most 200 characters")
    settings = get_settings()
    try:
        token = issue(settings, sub.strip(), check_role(role), parse_ttl(ttl))
    except ValueError as exc:
        raise UserError(str(exc)) from None
    typer.echo(token)
