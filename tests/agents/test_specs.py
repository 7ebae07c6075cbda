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
