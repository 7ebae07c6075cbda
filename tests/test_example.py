"""The bundled example carries the problems its README documents, and llmgenie finds each."""

from __future__ import annotations

import re
from pathlib import Path

from llmgenie.agents.tools import scan

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "shop"


def documented() -> set[tuple[str, str]]:
    """(file, category) pairs from the problem table of examples/shop/README.md."""
    pairs = set()
    for line in (EXAMPLE / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            file = cells[0].strip("`")
            for category in re.findall(r"`([a-z0-9]+\.[a-z0-9.-]+)`", cells[2]):
                pairs.add((file, category))
    return pairs


def test_every_documented_problem_is_found() -> None:
    expected = documented()
    assert len(expected) >= 15, "the README table was not read"
    found = {(f.file, f.category) for f in scan(EXAMPLE).findings}
    assert expected <= found, sorted(expected - found)
