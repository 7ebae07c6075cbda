"""`llmgenie ask` through the real console entry, over a knowledge base a test taught."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from llmgenie.core.models import Passage, PassageKind
from llmgenie.core.settings import Settings
from llmgenie.core.storage.knowledge import open_knowledge

pytestmark = pytest.mark.slow


def _llmgenie(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llmgenie", "ask", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LLMGENIE_HOME": str(home)},
    )


RUNBOOK = "## How to roll back\n```sh\nkubectl -n shop rollout undo deployment/api\n```"


@pytest.fixture
def taught(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    open_knowledge(Settings(home=home)).publish(
        "/srv/shop",
        [
            Passage(id="rb", target="/srv/shop", kind=PassageKind.runbook,
                    source="runbooks/api.md", title="How to roll back",
                    text=RUNBOOK),
        ],
    )  # fmt: skip
    return home


def test_an_answer_cites_where_it_comes_from(taught: Path) -> None:
    proc = _llmgenie(taught, "how do I roll back the api?", "--target", "/srv/shop")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "[1] How to roll back (runbooks/api.md):"
    assert "kubectl -n shop rollout undo deployment/api" in lines  # commands keep their lines
    assert "[1] How to roll back — runbooks/api.md · /srv/shop (score" in proc.stdout
    assert "no model is configured" in proc.stdout

    as_json = json.loads(_llmgenie(taught, "roll back", "--format", "json").stdout)
    assert as_json["mode"] == "tool-only" and as_json["citations"][0]["passage"]["id"] == "rb"


def test_nothing_known_is_exit_1_and_bad_input_is_exit_2(taught: Path) -> None:
    unknown = _llmgenie(taught, "how do I roll back?", "--target", "/srv/other")
    assert unknown.returncode == 1 and "knows nothing about /srv/other" in unknown.stdout
    for args, says in [
        (("roll back", "--top", "0"), "--top: 0 is not between 1 and 50"),
        (("roll back", "--format", "xml"), "--format: 'xml' is not one of text, json"),
        (("  ",), "QUESTION is empty"),
    ]:
        proc = _llmgenie(taught, *args)
        assert proc.returncode == 2 and proc.stderr.strip() == f"llmgenie: error: {says}"


def test_a_knowledge_server_that_does_not_answer_is_one_line(taught: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "llmgenie", "ask", "roll back"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "LLMGENIE_HOME": str(taught),
            "LLMGENIE_KNOWLEDGE_URL": "http://127.0.0.1:9",
        },
    )
    assert proc.returncode == 1
    [line] = proc.stderr.strip().splitlines()
    assert line.startswith("llmgenie: failed: the knowledge base at http://127.0.0.1:9 ")
