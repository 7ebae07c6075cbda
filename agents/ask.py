"""Questions answered from the knowledge base, with citations; a model writes the answer when
one is configured, else the answer is the closest passages themselves, and says so."""

from __future__ import annotations

from llmgenie.core.models import Answer, Citation, Mode, Passage
from llmgenie.core.settings import Settings, get_settings

__all__ = ["DEFAULT_TOP", "answer_question", "ask"]

DEFAULT_TOP = 5

_EXCERPT = 600


def ask(
    question: str,
    target: str | None = None,
    top: int = DEFAULT_TOP,
    settings: Settings | None = None,
) -> Answer:
    """Search the knowledge base (of `target` only, when given) and answer from what it finds.
    Raises KnowledgeUnavailable when the knowledge base cannot be read."""
    from llmgenie.core.storage.knowledge import open_knowledge

    settings = settings or get_settings()
    knowledge = open_knowledge(settings)
    hits = knowledge.search(question, top, target)
    if not hits and target is not None and knowledge.count(target) == 0:
        return Answer(
            question=question,
            answer=f"The knowledge base knows nothing about {target} yet: a task with a "
            "Documentation step teaches it (llmgenie run 'document it' --target …).",
            mode=Mode.tool_only,
        )
    return answer_question(question, hits, settings.model_chain)


def answer_question(
    question: str, hits: list[tuple[Passage, float]], model_chain: list[str]
) -> Answer:
    """An answer to `question` from `hits` (the knowledge base's closest passages, closest
    first), by the first model of `model_chain` that cites them, else by the passages."""
    citations = [Citation(n=n, passage=p, score=s) for n, (p, s) in enumerate(hits, start=1)]
    if not citations:
        return Answer(
            question=question,
            answer="The knowledge base holds nothing close to this question.",
            mode=Mode.tool_only,
            notes=["no passage shares a word with the question"],
        )
    notes: list[str] = []
    if model_chain:
        from llmgenie.agents.executors import ExecutorError
        from llmgenie.agents.llm.answer import answer_with_llm, cited

        try:
            taken = answer_with_llm(question, citations, model_chain)
        except ExecutorError as exc:
            notes.append(
                f"no model answered ({' '.join(str(exc).split())[:300]}): the answer is "
                "the passages closest to the question"
            )
        else:
            order = cited(taken.value, citations)
            return Answer(
                question=question,
                answer=taken.value,
                mode=Mode.llm,
                model=taken.model,
                citations=[citations[n - 1] for n in order],
                tokens=taken.tokens,
            )
    else:
        notes.append(
            "no model is configured (LLMGENIE_LLM): the answer is the passages closest "
            "to the question"
        )
    return Answer(
        question=question,
        answer="\n\n".join(_excerpt(c) for c in citations),
        mode=Mode.tool_only,
        citations=citations,
        notes=notes,
    )


def _excerpt(c: Citation) -> str:
    """The passage as written (commands keep their lines), without the heading its title
    repeats, cut at ~`_EXCERPT` characters on a line end."""
    p = c.passage
    lines = p.text.strip().splitlines()
    if lines and lines[0].lstrip("#").strip() == p.title:
        lines = lines[1:]
    kept: list[str] = []
    for line in lines:
        if kept and sum(len(k) + 1 for k in kept) + len(line) > _EXCERPT:
            kept.append("…")
            break
        kept.append(line)
    body = "\n".join(kept).strip()
    return f"[{c.n}] {p.title} ({p.source}):\n{body}"
