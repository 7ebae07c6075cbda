"""The rule-based planner and plan validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.planner import PlanError, plan_task, plan_with_rules, validate_plan
from llmgenie.agents.specs import load_specs
from llmgenie.core.context import analyze
from llmgenie.core.models import Caller, Capability, Context, Plan, Role, Step, Target, TargetKind

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "shop"
SPECS = load_specs()


@pytest.fixture(scope="module")
def example() -> Context:
    return analyze(str(EXAMPLE))


def edges(plan: Plan) -> dict[str, list[str]]:
    return {s.id: s.depends_on for s in plan.steps}


def test_broad_task_runs_everyone_with_documentation_last(example: Context) -> None:
    plan = plan_with_rules("audit the shop service", example, SPECS)
    assert edges(plan) == {
        "devops": [],
        "security": [],
        "performance": [],
        "documentation": ["devops", "security", "performance"],
    }
    assert plan.planner == "rules"


def test_task_words_select_agents(example: Context) -> None:
    plan = plan_with_rules("why is checkout slow? look at cpu and memory", example, SPECS)
    assert edges(plan) == {"performance": []}
    plan = plan_with_rules("find leaked secrets", example, SPECS)
    assert edges(plan) == {"security": []}


@pytest.mark.parametrize(
    ("task", "selected"),
    [
        # a keyword inside another word selects nothing: "cis" in "decision", "oom" in "room",
        # "fix" in "prefix"
        ("document the decision records", {"documentation"}),
        ("readme for the chat room", {"documentation"}),
        ("explain the prefix routing", {"documentation"}),
        # stems, written out with `*` in the specs, still take their inflections
        ("the api is throttled and OOMKilled", {"performance"}),
        ("list the vulnerabilities", {"security"}),
        ("fixing the deployments", {"devops"}),
        ("CIS benchmark", {"security"}),
    ],
)
def test_task_words_match_whole_words(example: Context, task: str, selected: set[str]) -> None:
    plan = plan_with_rules(task, example, SPECS)
    assert set(edges(plan)) == selected, plan.notes


def test_agents_flag_narrows_and_keeps_edges(example: Context) -> None:
    plan = plan_with_rules("anything", example, SPECS, agents=["documentation", "security"])
    assert edges(plan) == {"security": [], "documentation": ["security"]}


def test_unknown_agent_is_rejected(example: Context) -> None:
    with pytest.raises(PlanError, match="unknown agent 'wizard'"):
        plan_with_rules("x", example, SPECS, agents=["wizard"])


def test_no_infrastructure_drops_infra_agents(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# notes\n")
    ctx = analyze(str(tmp_path))
    plan = plan_with_rules("review this repository", ctx, SPECS)
    assert edges(plan) == {"security": [], "documentation": ["security"]}
    assert any("no infrastructure files" in n for n in plan.notes)


def test_prometheus_makes_performance_need_network(example: Context) -> None:
    plan = plan_with_rules("tune performance", example, SPECS, prometheus_configured=True)
    assert Capability.network in plan.steps[0].capabilities


def _plan(*steps: tuple[str, str, list[str]]) -> Plan:
    return Plan(steps=[Step(id=i, agent=a, depends_on=d) for i, a, d in steps])


def test_validation_rejects_a_cycle() -> None:
    plan = _plan(("a", "devops", ["c"]), ("b", "security", ["a"]), ("c", "performance", ["b"]))
    with pytest.raises(PlanError, match=r"cycle: a -> c -> b -> a"):
        validate_plan(plan, SPECS)


def test_validation_rejects_unknown_agents_steps_and_duplicates() -> None:
    plan = _plan(("a", "wizard", []), ("b", "security", ["zzz"]), ("b", "devops", []))
    with pytest.raises(PlanError) as err:
        validate_plan(plan, SPECS)
    assert err.value.problems == [
        "step id 'b' is used twice",
        "step 'a': unknown agent 'wizard'",
        "step 'b': depends on unknown step 'zzz'",
    ]


def test_validation_checks_the_callers_grants() -> None:
    plan = Plan(steps=[Step(id="d", agent="devops", capabilities=[Capability.write_patch])])
    with pytest.raises(PlanError, match="needs \\['write_patch'\\], not granted"):
        validate_plan(plan, SPECS, Caller(role=Role.viewer))
    validate_plan(plan, SPECS, Caller(role=Role.maintainer))


def test_plan_task_without_models_is_the_rule_plan(example: Context) -> None:
    plan = plan_task("audit", example, SPECS, caller=Caller(), model_chain=[])
    assert plan == plan_with_rules("audit", example, SPECS)


def test_empty_context_still_plans() -> None:
    ctx = Context(root="/", target=Target(location="/", kind=TargetKind.folder))
    assert plan_with_rules("review", ctx, SPECS).steps
