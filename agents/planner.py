"""BOSS's planner: from the task text and the context, which specialists run and in what order.

The rule-based planner is the default and the fallback; an LLM planner (agents/llm) proposes plans
that must pass the same `validate_plan`. Every plan is validated before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache

from llmgenie.agents.specs import AgentSpec
from llmgenie.core.models import AGENT_NAMES, Caller, Capability, Context, FileKind, Plan, Step
from llmgenie.core.permissions import ROLE_GRANTS

__all__ = [
    "REJECTED_PLAN_NOTE",
    "RULES_USED_NOTE",
    "PlanError",
    "plan_task",
    "plan_with_rules",
    "plans_with_model",
    "validate_plan",
]

_INFRA_KINDS = {
    FileKind.kubernetes,
    FileKind.kustomization,
    FileKind.helm_chart,
    FileKind.helm_template,
    FileKind.dockerfile,
    FileKind.compose,
    FileKind.terraform,
}
_WORKLOAD_KINDS = {
    FileKind.kubernetes,
    FileKind.kustomization,
    FileKind.helm_chart,
    FileKind.helm_template,
    FileKind.compose,
}
_BROAD_WORDS = re.compile(r"\b(audit|review|analy[sz]e|check|assess|inspect|everything|all|full)\b")


@lru_cache(maxsize=64)
def _task_words(keywords: tuple[str, ...]) -> re.Pattern[str] | None:
    """A spec's task words as one pattern that matches whole words only.

    `cis` matches "CIS" but not "decision"; a keyword ending in `*` is a stem, written so on
    purpose, and matches the words that begin with it (`throttl*`: throttle, throttling).
    """
    words = [k.strip().lower() for k in keywords if k.strip().rstrip("*")]
    if not words:
        return None
    forms = [re.escape(w[:-1]) + r"\w*" if w.endswith("*") else re.escape(w) for w in words]
    return re.compile(r"\b(?:" + "|".join(forms) + r")\b")


def _selects(spec: AgentSpec, text: str) -> bool:
    pattern = _task_words(tuple(spec.keywords))
    return pattern is not None and pattern.search(text) is not None


class PlanError(ValueError):
    """A plan is invalid; `problems` lists every reason, each naming the step."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _order(names: Iterable[str]) -> list[str]:
    rank = {name: i for i, name in enumerate(AGENT_NAMES)}
    return sorted(set(names), key=lambda n: (rank.get(n, len(rank)), n))


def plan_with_rules(
    task_text: str,
    context: Context,
    specs: Mapping[str, AgentSpec],
    *,
    agents: list[str] | None = None,
    prometheus_configured: bool = False,
) -> Plan:
    """The default plan: the specs' task words (whole words), narrowed by `agents` and the
    context."""
    notes: list[str] = []
    if agents:
        unknown = [a for a in agents if a not in specs]
        if unknown:
            raise PlanError(
                [f"unknown agent {a!r} (known: {', '.join(sorted(specs))})" for a in unknown]
            )
        chosen = _order(agents)
        notes.append(f"agents narrowed by the caller to {', '.join(chosen)}")
    else:
        text = task_text.lower()
        chosen = _order(n for n, s in specs.items() if _selects(s, text))
        if not chosen or _BROAD_WORDS.search(text):
            chosen = _order(specs)
            notes.append("broad task: every specialist runs")
        else:
            notes.append(f"task words select {', '.join(chosen)}")
        kinds = {f.kind for f in context.files}
        if not kinds & _INFRA_KINDS:
            dropped = [a for a in ("devops", "performance") if a in chosen]
            if dropped and len(chosen) > len(dropped):
                chosen = [a for a in chosen if a not in dropped]
                notes.append(f"no infrastructure files in the target: {', '.join(dropped)} not run")
        elif not kinds & _WORKLOAD_KINDS and "performance" in chosen and len(chosen) > 1:
            chosen = [a for a in chosen if a != "performance"]
            notes.append("no workload definitions in the target: performance not run")
    steps = []
    for name in chosen:
        spec = specs[name]
        needs = list(spec.needs)
        if (
            name == "performance"
            and prometheus_configured
            and Capability.network in spec.capabilities
        ):
            needs.append(Capability.network)
            notes.append("performance queries Prometheus: its step needs the network capability")
        steps.append(
            Step(
                id=name,
                agent=name,
                depends_on=[a for a in spec.runs_after if a in chosen],
                goal=spec.goal,
                capabilities=needs,
            )
        )
    plan = Plan(steps=steps, planner="rules", notes=notes)
    validate_plan(plan, specs)
    return plan


def validate_plan(plan: Plan, specs: Mapping[str, AgentSpec], caller: Caller | None = None) -> Plan:
    """Raise PlanError unless the plan is acyclic, names known agents and steps, and (with a
    caller) asks only for capabilities the agent allows and the caller's role grants."""
    problems: list[str] = []
    if not plan.steps:
        problems.append("the plan has no steps")
    ids = [s.id for s in plan.steps]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(f"step id {dup!r} is used twice")
    known = set(ids)
    for step in plan.steps:
        if step.agent not in specs:
            problems.append(f"step {step.id!r}: unknown agent {step.agent!r}")
        for dep in step.depends_on:
            if dep not in known:
                problems.append(f"step {step.id!r}: depends on unknown step {dep!r}")
            elif dep == step.id:
                problems.append(f"step {step.id!r}: depends on itself")
        if caller is not None and step.agent in specs:
            allowed = ROLE_GRANTS[caller.role] & set(specs[step.agent].capabilities)
            extra = sorted(c.value for c in step.capabilities if c not in allowed)
            if extra:
                problems.append(f"step {step.id!r}: needs {extra}, not granted")
    cycle = _find_cycle(plan)
    if cycle:
        problems.append(f"the plan has a cycle: {' -> '.join(cycle)}")
    if problems:
        raise PlanError(problems)
    return plan


def _find_cycle(plan: Plan) -> list[str] | None:
    deps = {s.id: [d for d in s.depends_on if d != s.id] for s in plan.steps}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for dep in deps.get(node, []):
            if dep not in deps:
                continue
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep] if dep in path else [node, dep]
            if state.get(dep) is None:
                found = visit(dep, [*path, dep])
                if found:
                    return found
        state[node] = 2
        return None

    for node in deps:
        if state.get(node) is None:
            found = visit(node, [node])
            if found:
                return found
    return None


#: how the plan's notes say that the model's plan was not used, and why (between the two)
REJECTED_PLAN_NOTE = "LLM plan rejected: "
RULES_USED_NOTE = "; rule-based plan used"


def plans_with_model(model_chain: list[str] | None, agents: list[str] | None) -> bool:
    """Whether BOSS asks a model for the plan: a model is configured and the caller did not
    name the agents."""
    return bool(model_chain) and not agents


def plan_task(
    task_text: str,
    context: Context,
    specs: Mapping[str, AgentSpec],
    *,
    caller: Caller,
    agents: list[str] | None = None,
    model_chain: list[str] | None = None,
    prometheus_configured: bool = False,
    rules: Plan | None = None,
    task_id: str | None = None,
) -> Plan:
    """BOSS's plan: the LLM planner's when a model is configured and its plan is valid, else the
    rule-based one (`rules`, when the caller already made it), with the reason in the notes."""
    if rules is None:
        rules = plan_with_rules(
            task_text, context, specs, agents=agents, prometheus_configured=prometheus_configured
        )
    if not plans_with_model(model_chain, agents):
        return rules
    try:
        from llmgenie.agents.llm.planner import plan_with_llm
    except ImportError as exc:
        return rules.model_copy(
            update={"notes": [*rules.notes, f"LLM planner unavailable ({exc}); rule-based plan"]}
        )
    try:
        proposed = plan_with_llm(task_text, context, specs, model_chain, task_id=task_id)
        return validate_plan(proposed, specs, caller)
    except Exception as exc:  # any failure of the model or of its plan: the rules decide
        reason = " ".join(str(exc).split())[:300]
        note = f"{REJECTED_PLAN_NOTE}{reason}{RULES_USED_NOTE}"
        return rules.model_copy(update={"notes": [*rules.notes, note]})
