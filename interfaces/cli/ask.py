"""`llmgenie ask QUESTION`: an answer from the knowledge base, with citations."""

from __future__ import annotations

from typing import Annotated

import typer

from llmgenie.core.models import Answer, Mode
from llmgenie.interfaces.cli._store import usable_home
from llmgenie.interfaces.cli.errors import EXIT_FINDINGS, UserError
from llmgenie.interfaces.cli.main import app

__all__ = ["ask_command"]


@app.command("ask")
def ask_command(
    question: Annotated[str, typer.Argument(help="e.g. 'how do I roll back the api?'")],
    target: Annotated[
        str | None, typer.Option("--target", "-t", help="only what is known about this target")
    ] = None,
    top: Annotated[int, typer.Option(help="how many passages to answer from")] = 5,
    output_format: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Answer a question from what earlier tasks taught the knowledge base, citing it."""
    if output_format not in ("text", "json"):
        raise UserError(f"--format: {output_format!r} is not one of text, json")
    if not question.strip():
        raise UserError("QUESTION is empty")
    if not 1 <= top <= 50:
        raise UserError(f"--top: {top} is not between 1 and 50")
    from llmgenie.core.logging import configure_logging
    from llmgenie.core.settings import get_settings
    from llmgenie.core.storage.knowledge import KnowledgeUnavailable
    from llmgenie.flows.service import TaskService

    usable_home()
    settings = get_settings()
    configure_logging(settings)
    try:
        answer = TaskService(roots=None, settings=settings).ask(question, target, top)
    except KnowledgeUnavailable as exc:
        typer.echo(f"llmgenie: failed: {exc}", err=True)
        raise typer.Exit(EXIT_FINDINGS) from None
    if output_format == "json":
        typer.echo(answer.model_dump_json(indent=2))
    else:
        typer.echo(render_answer(answer))
    raise typer.Exit(0 if answer.citations else EXIT_FINDINGS)


def render_answer(answer: Answer) -> str:
    lines = [answer.answer, ""]
    for c in answer.citations:
        p = c.passage
        where = p.location or p.source
        lines.append(f"[{c.n}] {p.title} — {where} · {p.target} (score {c.score:.2f})")
    if answer.mode is Mode.llm:
        lines.append(f"answered by {answer.model}")
    lines.extend(answer.notes)
    return "\n".join(line for line in lines).rstrip()
