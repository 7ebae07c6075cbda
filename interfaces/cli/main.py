"""The `llmgenie` console script: one Typer app, one module per command group.

Entry points stay thin: parse, call one function of the layer below, render. Heavy imports
(Prefect, CrewAI, boto3) happen inside the commands, so `llmgenie scan` stays fast.
"""

from __future__ import annotations

import os
import sys

import typer

from llmgenie.core.settings import SettingsError
from llmgenie.flows.service import Refused
from llmgenie.interfaces.cli import heap
from llmgenie.interfaces.cli.errors import UserError

__all__ = ["app", "entry", "main"]

app = typer.Typer(
    name="llmgenie",
    help="Multi-agent DevOps platform: plan a task over a target, run the specialists, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    # Each command module adds itself to `app`; the order here is the order of --help.
    from llmgenie.interfaces.cli import commands  # noqa: F401


def main(argv: list[str] | None = None) -> None:
    _register()
    try:
        app(args=argv, standalone_mode=True)
    except (UserError, Refused, SettingsError) as exc:  # the user's input or environment: 2
        typer.echo(f"llmgenie: error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # a fault, not the user's: one line; the traceback on request
        if os.environ.get("LLMGENIE_DEBUG"):
            raise
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        typer.echo(
            f"llmgenie: failed: {type(exc).__name__}: {message} "
            "(set LLMGENIE_DEBUG=1 for the traceback)",
            err=True,
        )
        sys.exit(1)


def entry() -> None:
    """The `llmgenie` command (console script and `python -m llmgenie`): `main()`, then exit.

    The process is the command's: its start-up imports are kept from the collector and its
    heap is frozen before the interpreter exits (`llmgenie.interfaces.cli.heap`). Not in
    `main()`: tests and benchmarks call it in a process that goes on.
    """
    heap.own_process()
    try:
        main()
    finally:
        heap.freeze_for_exit()


if __name__ == "__main__":
    entry()
