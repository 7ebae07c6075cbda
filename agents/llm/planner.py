"""BOSS's LLM planner: the model proposes the plan as structured output (JSON).

The proposal is parsed into a `Plan` with `planner="llm"`; `agents.planner.plan_task` then puts
it through the same `validate_plan` as the rule-based plan and falls back to the rules, with the
reason in the notes, when this raises or the plan is invalid. Models are tried in chain order.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping

from pydantic import BaseModel, Field, ValidationError

from llmgenie.agents.executors import ExecutorError
from llmgenie.agents.llm.chain import first_taken_answer
from llmgenie.agents.specs import AgentSpec
from llmgenie.core.models import Capability, Context, Plan, Step
from llmgenie.core.settings import get_settings

__all__ = ["PLANNER_TIMEOUT_SECONDS", "PlanProposal", "plan_with_llm"]

PLANNER_TIMEOUT_SECONDS = 60.0
_PLANNER_MAX_CALLS = 2


class ProposedStep(BaseModel):
    id: str
    agent: str
    depends_on: list[str] = Field(default_factory=list)
    goal: str = ""
    capabilities: list[Capability] | None = None


class PlanProposal(BaseModel):
    steps: list[ProposedStep]
    notes: list[str] = Field(default_factory=list)


_SYSTEM = (
    "You are BOSS, the coordinator of a DevOps agent team. You plan which specialists run on a "
    "target and in which order, as a DAG. Answer with one JSON object and nothing else: "
    '{"steps": [{"id": "security", "agent": "security", "depends_on": [], "goal": "..."}], '
    '"notes": ["why this plan"]}. Use only the agents listed; depends_on names step ids; no '
    "cycles. Steps that do not depend on each other run at the same time."
)


def _user_prompt(task_text: str, context: Context, specs: Mapping[str, AgentSpec]) -> str:
    kinds = Counter(f.kind.value for f in context.files)
    agents = "\n".join(
        f"- {s.name}: {s.role}. {s.goal[:300]} (usually after: {', '.join(s.runs_after) or '-'})"
        for s in specs.values()
    )
    return (
        f"Task: {task_text}\n\nTarget: {len(context.files)} file(s) by kind {dict(kinds)}.\n\n"
        f"Agents:\n{agents}"
    )


def _parse(text: str) -> PlanProposal:
    cleaned = re.sub(r"^```(?:json)?\s*|\s*```$", "", (text or "").strip())
    start, end = cleaned.find("{"), cleaned.rfind("}")
    if start == -1 or end <= start:
        raise ExecutorError("the planner's answer holds no JSON object", "bad_answer")
    try:
        return PlanProposal.model_validate(json.loads(cleaned[start : end + 1]))
    except (ValueError, ValidationError) as exc:
        reason = " ".join(str(exc).split())[:200]
        raise ExecutorError(f"the planner's answer is not a plan: {reason}", "bad_answer") from None


def _to_plan(proposal: PlanProposal, specs: Mapping[str, AgentSpec], model: str) -> Plan:
    steps = []
    for s in proposal.steps:
        spec = specs.get(s.agent)
        caps = s.capabilities if s.capabilities is not None else (list(spec.needs) if spec else [])
        steps.append(
            Step(
                id=s.id,
                agent=s.agent,
                depends_on=s.depends_on,
                goal=s.goal or (spec.goal if spec else ""),
                capabilities=caps,
            )
        )
    notes = [f"planned by {model}", *(n[:300] for n in proposal.notes[:5])]
    return Plan(steps=steps, planner="llm", notes=notes)


def plan_with_llm(
    task_text: str,
    context: Context,
    specs: Mapping[str, AgentSpec],
    model_chain: list[str],
    *,
    task_id: str | None = None,
) -> Plan:
    """The first model's plan that parses; raises ExecutorError when no model gives one.

    The plan is not validated here: the caller validates it like any other plan.
    """
    messages = [
        {"role": "system", "content": _SYSTEM},
        {"role": "user", "content": _user_prompt(task_text, context, specs)},
    ]
    return first_taken_answer(
        messages,
        model_chain,
        lambda text, model_id: _to_plan(_parse(text), specs, model_id),
        purpose="plan",
        actor="boss",
        timeout=get_settings().attempt_timeout(PLANNER_TIMEOUT_SECONDS),
        max_calls=_PLANNER_MAX_CALLS,
        task_id=task_id,
    ).value
