"""Agent specs load, and broken specs say what is wrong and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from llmgenie.agents.specs import SpecError, load_specs
from llmgenie.core.models import AGENT_NAMES, Capability

GOOD = """name: {name}
role: r
goal: g
backstory: b
capabilities: [read_target]
"""


def test_packaged_specs_cover_every_agent() -> None:
    specs = load_specs()
    assert sorted(specs) == sorted(AGENT_NAMES)
    assert specs["documentation"].runs_after == ["devops", "security", "performance"]
    assert all(Capability.read_target in s.capabilities for s in specs.values())


def test_a_new_specialist_is_just_a_spec(tmp_path: Path) -> None:
    (tmp_path / "cost.yaml").write_text(GOOD.format(name="cost"))
    assert list(load_specs(tmp_path)) == ["cost"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [", "bad.yaml: not valid YAML"),
        ("- a list", "bad.yaml: expected a mapping"),
        (GOOD.format(name="bad") + "max_iterations: 0\n", "bad.yaml: max_iterations"),
        (GOOD.format(name="bad") + "colour: blue\n", "bad.yaml: colour: Extra inputs"),
        (GOOD.format(name="other"), "bad.yaml: name 'other' does not match"),
        (GOOD.format(name="bad") + "needs: [network]\n", "needs ['network']"),
        (GOOD.format(name="bad") + "runs_after: [ghost]\n", "runs_after names unknown ['ghost']"),
        (
            GOOD.format(name="bad") + "models: [gpt-4o]\n",
            "bad.yaml: models: Value error, 'gpt-4o' is not provider/model",
        ),
    ],
)
def test_broken_specs_are_explained(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(SpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_specs(tmp_path)


# Which rules each agent ran before the rules were grouped by what they check (decision 0022):
# the specs' `rule_groups` must give each agent exactly these, no more and no fewer.
RULES_BY_AGENT = {
    "devops": {
        *(f"LG-COMPOSE-{i}" for i in range(101, 106)),
        "LG-DEP-001",
        *(f"LG-DOCKER-{i:03d}" for i in range(30, 39)),
        "LG-OPS-001",
        "LG-OPS-002",
    },
    "security": {
        *(f"LG-COMPOSE-{i:03d}" for i in range(1, 11)),
        *(f"LG-DOCKER-{i:03d}" for i in range(1, 9)),
        *(f"LG-DOCKER-{i:03d}" for i in range(20, 25)),
        *(f"LG-K8S-{i:03d}" for i in range(1, 23)),
        *(f"LG-SECRET-{i:03d}" for i in range(1, 13)),
        *(f"LG-TF-{i:03d}" for i in range(1, 6)),
        *(f"LG-RBAC-{i:03d}" for i in range(1, 7)),
        *(f"LG-EXPO-{i:03d}" for i in range(1, 6)),
        *(f"LG-ISO-{i:03d}" for i in range(1, 6)),
        *(f"LG-CI-{i:03d}" for i in range(1, 8)),
        *(f"LG-TF-{i:03d}" for i in range(10, 35)),
    },
    "performance": {f"LG-PERF-{i:03d}" for i in range(1, 10)},
    "documentation": set(),
}


def test_spec_rule_groups_give_each_agent_its_rules() -> None:
    from llmgenie.agents.tools.registry import default_registry

    registry = default_registry()
    for agent, expected in RULES_BY_AGENT.items():
        got = {r.id for rs in registry.rulesets([agent]) for r in rs.rules}
        assert got == expected, agent
        # a finding still says which agent's rule it is
        assert {r.agent for rs in registry.rulesets([agent]) for r in rs.rules} <= {agent}
    assert [n for n, _ in registry.collectors_of("devops")] == ["inventory"]
    assert [n for n, _ in registry.collectors_of("performance")] == ["prometheus"]
    assert [n for n, _ in registry.collectors_of("documentation")] == ["catalogue"]


def test_unknown_rule_group_or_collector_is_refused_by_name() -> None:
    from llmgenie.agents.tools.checks import register_all
    from llmgenie.agents.tools.registry import Registry

    registry = Registry()
    register_all(registry)
    with pytest.raises(ValueError, match=r"agent 'cost': unknown rule group\(s\) kubernetes\.cost"):
        registry.assign("cost", ["kubernetes.cost"])
    with pytest.raises(ValueError, match=r"unknown collector\(s\) billing"):
        registry.assign("cost", ["kubernetes.images"], ["billing"])
    registry.assign("cost", ["kubernetes.images"])
    assert {r.id for rs in registry.rulesets(["cost"]) for r in rs.rules} == {
        "LG-K8S-013",
        "LG-K8S-014",
    }
